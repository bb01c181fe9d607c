package dev.reuseport.examples.bench;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The benches' shape, enforced: a scenario is its options, phases and figures over the shared harness, so
 * no scenario uses another (each reads on its own, and a new one is written by copying none), and the
 * harness knows no scenario.
 */
class BenchArchitectureTest {
    static final String SCENARIOS = "dev.reuseport.examples.bench.scenarios";
    static final String HARNESS = "dev.reuseport.examples.bench.harness";

    static JavaClasses benches;

    @BeforeAll
    static void importBenches() {
        benches = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.reuseport.examples.bench");
    }

    @Test
    void theScenariosAndTheHarnessAreThere() {
        assertThat(benches.stream().filter(c -> c.getPackageName().equals(SCENARIOS))).hasSizeGreaterThanOrEqualTo(6);
        assertThat(benches.stream().filter(c -> c.getPackageName().equals(HARNESS))).hasSizeGreaterThanOrEqualTo(10);
    }

    @Test
    void noScenarioUsesAnother() {
        classes().that().resideInAPackage(SCENARIOS).should(useNoOtherScenario()).check(benches);
    }

    @Test
    void theHarnessUsesNoScenario() {
        noClasses().that().resideInAPackage(HARNESS).should().dependOnClassesThat().resideInAPackage(SCENARIOS)
                .check(benches);
    }

    /** A scenario is a top-level class of the scenarios package with its nested classes. */
    static JavaClass scenarioOf(JavaClass c) {
        JavaClass top = c;
        while (top.getEnclosingClass().isPresent()) {
            top = top.getEnclosingClass().get();
        }
        return top;
    }

    static ArchCondition<JavaClass> useNoOtherScenario() {
        return new ArchCondition<>("use no other scenario") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                String own = scenarioOf(c).getName();
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    JavaClass target = d.getTargetClass().getBaseComponentType();
                    if (target.getPackageName().equals(SCENARIOS) && !scenarioOf(target).getName().equals(own)) {
                        events.add(SimpleConditionEvent.violated(d, d.getDescription()));
                    }
                }
            }
        };
    }
}
