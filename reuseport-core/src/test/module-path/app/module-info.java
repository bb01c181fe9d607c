/**
 * An application module, as a user writes one: it requires dev.reuseport and nothing else. ModulePathTest
 * compiles it against the packaged JARs and runs it on the module path, with no class path.
 */
module dev.reuseport.moduletest {
    requires dev.reuseport;
}
