package dev.reuseport;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.fields;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules of docs/architecture.md, checked on the classes of reuseport-core (not its tests):
 * the group never knows who operates it, the internal parts never reach back up, steering and
 * membership stay apart, the native internals stay below the facade, the engine's parts never reach
 * back to it or up to each other, no test hook in production code, no package cycle; and the size limits of issue 13, read from the sources: {@code ReuseportGroup.java}
 * at most {@value #FACADE_LIMIT} lines (nested Builder and javadoc included) and without
 * {@code synchronized}, every other main source file of core at most {@value #FILE_LIMIT} lines.
 */
class ArchitectureTest {
    private static final String FACADE = "dev.reuseport";
    private static final String INTERNAL = "dev.reuseport.internal..";
    private static final String HANDOFF = "dev.reuseport.handoff..";
    private static final String SYS_INTERNAL = "dev.reuseport.sys.internal..";
    /**
     * The operator classes. They stay in {@code dev.reuseport}, where applications import them (moving
     * them would change the public API), so the rules name them by class.
     */
    private static final Set<String> OPERATORS = Set.of("Controller", "ControlSocket", "ControlCommands",
            "ControlClient", "MetricsSampler", "GroupMetrics", "Bundle", "PrometheusExporter", "MetricsEndpoint");
    /**
     * ReuseportGroup's public accessors that hand out or build operator objects; kept for compatibility.
     * Nothing else in the group refers to an operator class.
     */
    private static final Set<String> GROUP_OPERATOR_ACCESSORS = Set.of("controller", "controllerState", "newSampler",
            "bundle");
    /**
     * Facade classes that sit on a descriptor or open one and so use the native internals directly: the
     * workers' and connections' I/O, the engine and the two of its parts that hold a worker's socket object
     * (the listener loans, keyed by it; the change script's undo, which retires a new socket) and the
     * opening of a group;
     * the control socket and client (peer credentials and timeouts on their own sockets); the ingest
     * types that own native message vectors (DatagramBatch, DatagramSource) and set a thread's CPUs.
     * Systemd adopts passed descriptors; SystemdNotify sends states and descriptors to the notify socket.
     */
    private static final Set<String> NATIVE_USERS = Set.of("Worker", "Connection", "GroupEngine", "ListenerLoans",
            "ChangeScript", "GroupOpening", "ControlSocket", "ControlClient", "DatagramBatch", "DatagramSource",
            "CpuAffinity", "Systemd", "SystemdNotify");

    /** The most lines {@code ReuseportGroup.java} may have. */
    static final int FACADE_LIMIT = 700;
    /** The most lines any other main source file of reuseport-core may have. */
    static final int FILE_LIMIT = 600;
    /** The size check: null when {@code file} with {@code n} lines is within {@code limit}, else what is wrong. */
    static String sizeProblem(Path file, long n, int limit) {
        return n > limit ? file + " (" + n + " lines; accepted: at most " + limit + ")" : null;
    }

    private static JavaClasses core;

    @BeforeAll
    static void importCore() {
        // the rules read the class files of the packaged JAR, the same bytes in both runs of the suite: they
        // are checked once, on the JDK 22+ run (the import took up to 17 s on JDK 17 on a loaded machine)
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.version().feature() >= 22,
                "the package rules read the same JAR on both JDKs: checked once, on the JDK 22+ run of the suite");
        core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.reuseport").that(inCore());
    }

    /** reuseport-core's packages: the facade, internal, handoff and micrometer (not sys, not bpf). */
    private static DescribedPredicate<JavaClass> inCore() {
        return DescribedPredicate.describe("in reuseport-core", c -> c.getPackageName().equals(FACADE)
                || c.getPackageName().startsWith("dev.reuseport.internal")
                || c.getPackageName().startsWith("dev.reuseport.handoff")
                || c.getPackageName().startsWith("dev.reuseport.micrometer"));
    }

    private static String topName(JavaClass c) {
        String n = c.getName().substring(c.getPackageName().length() + 1);
        int dollar = n.indexOf('$');
        return dollar < 0 ? n : n.substring(0, dollar);
    }

    private static DescribedPredicate<JavaClass> operator() {
        return DescribedPredicate.describe("an operator class " + OPERATORS, c -> c.getPackageName().equals(FACADE)
                && OPERATORS.contains(topName(c)));
    }

    private static DescribedPredicate<JavaClass> groupSide() {
        return DescribedPredicate.describe("on the group's side (facade but operators, internal, handoff)", c ->
                (c.getPackageName().equals(FACADE) && !OPERATORS.contains(topName(c)))
                        || c.getPackageName().startsWith("dev.reuseport.internal")
                        || c.getPackageName().startsWith("dev.reuseport.handoff"));
    }

    private static void check(ArchRule rule) {
        rule.check(core);
    }

    @Test
    void theGroupNeverKnowsWhoOperatesIt() {
        check(classes().that(groupSide()).should(new ArchCondition<JavaClass>("not depend on an operator class "
                + "(but in ReuseportGroup's accessors " + GROUP_OPERATOR_ACCESSORS + ")") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    if (operator().test(d.getTargetClass()) && !compatibilityAccessor(d)) {
                        events.add(SimpleConditionEvent.violated(d, d.getDescription()));
                    }
                }
            }
        }));
    }

    /** A dependency that one of ReuseportGroup's compatibility accessors (or the field they read) makes. */
    private static boolean compatibilityAccessor(Dependency d) {
        if (!d.getOriginClass().getName().equals(ReuseportGroup.class.getName())) {
            return false;
        }
        String desc = d.getDescription();
        for (String m : GROUP_OPERATOR_ACCESSORS) {
            if (desc.startsWith("Method <" + ReuseportGroup.class.getName() + "." + m + "(")) {
                return true;
            }
        }
        return desc.startsWith("Field <" + ReuseportGroup.class.getName() + ".controller>");
    }

    @Test
    void internalPartsAndTheHandOffNeverReachBackUp() {
        check(noClasses().that().resideInAnyPackage(INTERNAL, HANDOFF)
                .should().dependOnClassesThat().resideInAPackage(FACADE)
                .orShould().dependOnClassesThat().resideInAPackage("dev.reuseport.micrometer.."));
    }

    @Test
    void steeringAndMembershipNeverImportEachOther() {
        check(noClasses().that().resideInAPackage("dev.reuseport.internal.steer..")
                .should().dependOnClassesThat().resideInAPackage("dev.reuseport.internal.member.."));
        check(noClasses().that().resideInAPackage("dev.reuseport.internal.member..")
                .should().dependOnClassesThat().resideInAPackage("dev.reuseport.internal.steer.."));
    }

    @Test
    void policyPlannerAndWorkerNeverCallTheGroup() {
        check(noClasses().that().haveNameMatching("dev\\.reuseport\\.(Policy|internal\\.steer\\.TablePlanner)(\\$.*)?")
                .should().dependOnClassesThat().belongToAnyOf(ReuseportGroup.class));
        // a worker keeps the group it belongs to for Worker.group() (public API), and calls nothing on it
        check(noClasses().that().belongToAnyOf(Worker.class)
                .should().callMethodWhere(DescribedPredicate.describe("the target is ReuseportGroup",
                        call -> call.getTargetOwner().isEquivalentTo(ReuseportGroup.class)))
                .orShould().accessFieldWhere(DescribedPredicate.describe("the field is ReuseportGroup's",
                        access -> access.getTargetOwner().isEquivalentTo(ReuseportGroup.class))));
    }

    @Test
    void onlyTheInternalsTouchTheNativeInternals() {
        check(noClasses().that().resideOutsideOfPackages(INTERNAL, HANDOFF)
                .and(DescribedPredicate.describe("not one of " + NATIVE_USERS,
                        c -> !(c.getPackageName().equals(FACADE) && NATIVE_USERS.contains(topName(c)))))
                .should().dependOnClassesThat().resideInAPackage(SYS_INTERNAL));
    }

    @Test
    void onlyTheFacadeReachesTheEngine() {
        check(noClasses().that(DescribedPredicate.not(DescribedPredicate.describe("the facade's own machinery",
                        c -> Set.of("ReuseportGroup", "GroupLending", "GroupDissectors", "GroupEngine", "GroupOpening",
                                "Watchdog").contains(topName(c))
                                && c.getPackageName().equals(FACADE))))
                .should().dependOnClassesThat().belongToAnyOf(GroupEngine.class));
    }

    @Test
    void theEnginesPartsDependDownwardOnly() {
        // none of them reaches the engine (onlyTheFacadeReachesTheEngine); among themselves, the steering
        // half and the listener loans are the bottom, the change script and the hand-off sit on them
        check(noClasses().that().belongToAnyOf(GroupSteering.class)
                .should().dependOnClassesThat().belongToAnyOf(ListenerLoans.class, ChangeScript.class,
                        GroupHandoff.class));
        check(noClasses().that().belongToAnyOf(ListenerLoans.class)
                .should().dependOnClassesThat().belongToAnyOf(GroupSteering.class, ChangeScript.class,
                        GroupHandoff.class));
        check(noClasses().that().belongToAnyOf(ChangeScript.class)
                .should().dependOnClassesThat().belongToAnyOf(GroupHandoff.class));
        check(noClasses().that().belongToAnyOf(GroupHandoff.class)
                .should().dependOnClassesThat().belongToAnyOf(ChangeScript.class));
    }

    @Test
    void noProductionClassHoldsATestHook() {
        // a test hook is mutable static state a test swaps (a static Consumer to kill the process at a
        // step, say); the only mutable statics allowed are log-once flags
        check(fields().that().areStatic().and().areNotFinal().should().haveRawType(boolean.class)
                .allowEmptyShould(true));
    }

    @Test
    void noPackageCycle() {
        check(SlicesRuleDefinition.slices().assignedFrom(new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass c) {
                return SliceIdentifier.of(c.getPackageName());
            }

            @Override
            public String getDescription() {
                return "the packages of reuseport-core";
            }
        }).should().beFreeOfCycles());
    }

    /** reuseport-core's main sources (the tests run with the module's directory as {@code basedir}). */
    private static Path mainSources() {
        Path dir = Path.of(System.getProperty("basedir", ".")).resolve("src/main");
        if (!Files.isDirectory(dir)) {
            throw new AssertionError("no sources at " + dir.toAbsolutePath() + "; run from reuseport-core");
        }
        return dir;
    }

    @Test
    void theFacadeStaysSmallAndLockFree() throws IOException {
        Path facade = mainSources().resolve("java/dev/reuseport/ReuseportGroup.java");
        List<String> lines = Files.readAllLines(facade);
        String problem = sizeProblem(facade, lines.size(), FACADE_LIMIT);
        if (problem != null) {
            throw new AssertionError(problem + " (move code to GroupEngine, GroupOpening, BuilderChecks; never thin "
                    + "the javadoc)");
        }
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).matches(".*\\bsynchronized\\b.*")) {
                throw new AssertionError(facade + ":" + (i + 1) + " uses synchronized; accepted: none (the engine "
                        + "orders changes under its own locks)");
            }
        }
    }

    @Test
    void noOtherCoreSourceFileExceedsItsLimit() throws IOException {
        List<String> over;
        try (Stream<Path> files = Files.walk(mainSources())) {
            over = files.filter(f -> f.toString().endsWith(".java") && !f.endsWith("ReuseportGroup.java"))
                    .map(f -> {
                        try {
                            return sizeProblem(f, Files.readAllLines(f).size(), FILE_LIMIT);
                        } catch (IOException e) {
                            return f + " (unreadable: " + e + ")";
                        }
                    }).filter(s -> s != null).sorted().collect(Collectors.toList());
        }
        if (!over.isEmpty()) {
            throw new AssertionError("main source files of reuseport-core over " + FILE_LIMIT + " lines: " + over);
        }
    }
}
