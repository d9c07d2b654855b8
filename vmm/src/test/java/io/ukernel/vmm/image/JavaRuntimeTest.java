package io.ukernel.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JavaRuntimeTest {
    @Test
    void sweepAbandoned_removesOnlyTheTemporaryDirectoriesOfPacksThatAreGone(@TempDir Path cache) throws Exception {
        Process done = new ProcessBuilder("true").start();
        done.waitFor();
        long me = ProcessHandle.current().pid();
        Files.createDirectories(cache.resolve("jre-tmp-" + me + "-live/jre/bin"));
        Files.createDirectories(cache.resolve("jre-tmp-" + done.pid() + "-dead/jre/bin"));
        Files.writeString(cache.resolve("jre-tmp-" + done.pid() + "-dead/jre/bin/java"), "half");
        Files.createDirectories(cache.resolve("jre-tmp-123abc"));            // a name from before pids were kept
        Files.createDirectories(cache.resolve("jre-0123456789abcdef/bin"));  // a finished runtime
        JavaRuntime.sweepAbandoned(cache);
        try (Stream<Path> s = Files.list(cache)) {
            assertEquals(List.of("jre-0123456789abcdef", "jre-tmp-" + me + "-live"),
                    s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }
}
