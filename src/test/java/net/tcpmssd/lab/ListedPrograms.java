package net.tcpmssd.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the tests' commands with only the programs of {@code scripts/programs} on the PATH (a
 * directory of links that {@code scripts/listed-programs} fills). A test that runs a program
 * nobody listed fails here, on every machine, instead of passing where it happens to be installed
 * and failing for a new user whose {@code scripts/deps} never installed it.
 */
public final class ListedPrograms {

    private static Path directory;
    private static String unavailable;

    private ListedPrograms() {}

    /** Why the listed programs cannot be used (not installed), or null when they can. */
    public static synchronized String unavailable() {
        directory();
        return unavailable;
    }

    /** A process builder for {@code command}, its program looked up among the listed ones alone. */
    public static ProcessBuilder processBuilder(List<String> command) {
        Path dir = directory();
        if (unavailable != null) {
            throw new AssertionError(unavailable);
        }
        List<String> resolved = new ArrayList<>(command);
        String program = resolved.get(0);
        if (!program.contains("/")) {
            // Java looks programs up on its own PATH, not the child's: resolve it here.
            Path listed = dir.resolve(program);
            if (!Files.exists(listed)) {
                throw new AssertionError(program + " is not in scripts/programs: list it there with its Debian package,"
                        + " so that scripts/deps installs it");
            }
            resolved.set(0, listed.toString());
        }
        ProcessBuilder builder = new ProcessBuilder(resolved);
        builder.environment().put("PATH", dir.toString());
        return builder;
    }

    private static synchronized Path directory() {
        if (directory == null) {
            try {
                Path dir = Files.createTempDirectory("tcpmssd-programs-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteLinks(dir)));
                Process p = new ProcessBuilder(Lab.ROOT.resolve("scripts/listed-programs").toString(), dir.toString())
                        .redirectErrorStream(true).start();
                p.getOutputStream().close();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                if (p.waitFor() != 0) {
                    unavailable = out.isEmpty() ? "scripts/listed-programs failed" : out;
                }
                directory = dir;
            } catch (IOException e) {
                throw new AssertionError("cannot list the programs", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        return directory;
    }

    private static void deleteLinks(Path dir) {
        try (var links = Files.list(dir)) {
            for (Path link : (Iterable<Path>) links::iterator) {
                Files.deleteIfExists(link);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temporary directory of links: nothing to do about it at exit
        }
    }
}
