/** A module that reaches into reuseport's internals: it must not compile. */
module dev.reuseport.moduletest.internals {
    requires dev.reuseport;
}
