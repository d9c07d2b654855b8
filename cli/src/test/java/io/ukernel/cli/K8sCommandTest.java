package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ukernel k8s}: a Job for hello (runs to completion, no ports), a Deployment and a Service with probes for
 * echo, the RuntimeClass, the estimates and the warnings; and every object validated against the Kubernetes API's
 * JSON schemas (npm {@code kubernetes-models}, installed by {@code .ci/run} into scripts/k8s-validate; the schema
 * check is skipped, saying so, when node or that package is missing).
 */
class K8sCommandTest {
    static Path repo;

    @BeforeAll
    static void repo() {
        CliTesting.useRepoAdapter();
        repo = Path.of(System.getProperty("ukernel.repo"));
    }

    static void validate(Path yaml) throws Exception {
        Path validator = repo.resolve("scripts/k8s-validate");
        Assumptions.assumeTrue(OciImageTest.onPath("node"), "node is not installed (apt-get install nodejs)");
        Assumptions.assumeTrue(Files.isDirectory(validator.resolve("node_modules/kubernetes-models")),
                "kubernetes-models is not installed (npm ci --prefix scripts/k8s-validate)");
        Process p = new ProcessBuilder("node", validator.resolve("validate.mjs").toString(), yaml.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertFalse(out.contains("invalid"), out);
    }

    @Test
    void hello_isAJobWithoutService_validAgainstTheSchema(@TempDir Path tmp) throws Exception {
        Path app = MicrovmEndToEndTest.copyOf(repo.resolve("examples/hello"), tmp.resolve("hello"));
        CliTesting.Run r = CliTesting.run(new K8sCommand(), app.toString(), "--image", "localhost:5000/hello:1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Wrote ") && r.out().contains("a Job for image localhost:5000/hello:1"), r.out());
        String y = Files.readString(app.resolve("dist/hello.k8s.yaml"));
        assertTrue(y.contains("kind: Job"), y);
        assertTrue(y.contains("restartPolicy: Never"), y);
        assertTrue(y.contains("runAsUser: 65532") && y.contains("readOnlyRootFilesystem: true"), y);
        assertTrue(y.contains("mountPath: /tmp"), y);
        assertFalse(y.contains("kind: Service"), y);
        validate(app.resolve("dist/hello.k8s.yaml"));
    }

    @Test
    void echo_isADeploymentWithServiceProbesAndRuntimeClass_validAgainstTheSchema(@TempDir Path tmp) throws Exception {
        Path app = MicrovmEndToEndTest.copyOf(repo.resolve("examples/echo"), tmp.resolve("echo"));
        CliTesting.Run r = CliTesting.run(new K8sCommand(), app.toString(), "--image", "registry.example/echo:2",
                "--port", "8007", "--replicas", "3", "--runtime-class", "kata", "--memory", "256Mi");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("a Deployment and a Service"), r.out());
        assertTrue(r.out().contains("warning: [caps.net] bind allows only loopback addresses"), r.out());
        String y = Files.readString(app.resolve("dist/echo.k8s.yaml"));
        assertTrue(y.contains("kind: Deployment") && y.contains("kind: Service"), y);
        assertTrue(y.contains("replicas: 3"), y);
        assertTrue(y.contains("runtimeClassName: kata"), y);
        assertTrue(y.contains("containerPort: 8007") && y.contains("targetPort: 8007"), y);
        assertTrue(y.contains("readinessProbe:\n            tcpSocket:\n              port: 8007"), y);
        assertTrue(y.contains("memory: \"256Mi\""), y);
        assertTrue(y.contains("- name: PORT\n              value: \"8007\""), y);   // env/ukernel.env
        validate(app.resolve("dist/echo.k8s.yaml"));
    }

    @Test
    void runsc_warnsThatStrictModeNeedsLandlock_andBadOptionsSayWhatToChange(@TempDir Path tmp) throws Exception {
        Path app = MicrovmEndToEndTest.copyOf(repo.resolve("examples/hello"), tmp.resolve("hello"));
        CliTesting.Run r = CliTesting.run(new K8sCommand(), app.toString(), "--runtime-class", "runsc", "-o",
                tmp.resolve("out.yaml").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("gVisor (runsc) implements no Landlock"), r.out());
        assertTrue(Files.readString(tmp.resolve("out.yaml")).contains("image: \"hello:latest\""));
        r = CliTesting.run(new K8sCommand(), app.toString(), "--kind", "daemonset");
        assertTrue(r.exit() != 0 && r.err().contains("--kind must be deployment or job"), r.err());
        r = CliTesting.run(new K8sCommand(), app.toString(), "--memory", "lots");
        assertTrue(r.exit() != 0 && r.err().contains("--memory must be a Kubernetes quantity"), r.err());
    }
}
