package net.tcpmssd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import net.tcpmssd.cli.Options;
import net.tcpmssd.lab.ListedPrograms;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The man page renders without a groff warning and documents every option the daemon takes. */
class ManPageTest {

    private static final Path PAGE = Path.of("man/tcpmssd.8");

    private static String[] render() throws Exception {
        String unavailable = ListedPrograms.unavailable();
        if (unavailable != null) {
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError(unavailable);
            }
            Assumptions.abort(unavailable);
        }
        ProcessBuilder builder = ListedPrograms.processBuilder(List.of("man", "--warnings", "-E", "UTF-8", "-l", PAGE.toString()));
        builder.environment().put("MANWIDTH", "80");
        builder.environment().put("LC_ALL", "C.UTF-8");
        builder.environment().put("MANPAGER", "cat");
        Process p = builder.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        return new String[] {out, err};
    }

    @Test
    void rendersWithoutWarnings() throws Exception {
        String[] rendered = render();
        assertThat(rendered[1]).as("groff warnings").isEmpty();
        assertThat(rendered[0]).contains("tcpmssd [-bv] -p port {-i iface | -m mtu}");
    }

    /**
     * The tags of the man page's paragraphs in one section, as plain text: the line after each
     * {@code .TP} ({@code .B \-b}, {@code .BI \-p " port"}, {@code \fB\-\-metrics\fR [...]}), its
     * first word without font escapes, {@code \-} read as {@code -}. A tag is a whole word: the
     * {@code -b} inside {@code --queue-bypass} in some paragraph's text documents nothing.
     */
    static Set<String> paragraphTags(String page, String section) {
        int start = page.indexOf("\n.SH " + section + "\n");
        assertThat(start).as("section %s", section).isNotNegative();
        int end = page.indexOf("\n.SH ", start + 1);
        String[] lines = page.substring(start, end < 0 ? page.length() : end).split("\n");
        Set<String> tags = new LinkedHashSet<>();
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith(".TP")) {
                String tag = lines[i + 1].replaceFirst("^\\.(B|BI|BR|I|IR) ", "").replaceAll("\\\\f[BIRP]", "")
                        .replace("\\-", "-");
                tags.add(tag.split("[ \\[]", 2)[0]);
            }
        }
        return tags;
    }

    /** The options that --help lists: the first word of each of its lines that starts with a dash. */
    private static Set<String> helpOptions() {
        Set<String> options = new LinkedHashSet<>();
        for (String line : Options.help().split("\n")) {
            if (line.startsWith("  -")) {
                options.add(line.trim().split(" ", 2)[0]);
            }
        }
        return options;
    }

    @Test
    void documentsEveryOptionAsAParagraphOfItsOwn() throws Exception {
        Set<String> tags = paragraphTags(Files.readString(PAGE), "OPTIONS");
        assertThat(helpOptions()).as("what --help lists").contains("-b", "-v", "-p", "-i", "-m", "--metrics");
        assertThat(tags).containsAll(helpOptions());
        assertThat(paragraphTags(Files.readString(PAGE), "SIGNALS")).contains("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2");
    }

    @Test
    void aShortOptionIsNotFoundInsideALongerWord() {
        String page = "\n.SH OPTIONS\n.TP\n.B \\-\\-queue\\-bypass\nkeeps \\fB\\-b\\fR traffic flowing\n"
                + ".TP\n\\fB\\-\\-metrics\\fR [\\fIaddr\\fB:\\fR]\\fIport\\fR\ntext\n.TP\n.BI \\-p \" port\"\ntext\n.SH FILES\n";
        assertThat(paragraphTags(page, "OPTIONS")).containsExactly("--queue-bypass", "--metrics", "-p");
    }

    @Test
    void mentionsTheQueueAndItsBypass() throws Exception {
        String text = render()[0].replaceAll("\\x08.", "").replace("\u2010", "-").replace("\u2212", "-");
        assertThat(text).contains("NFQUEUE").contains("--queue-bypass");
    }
}
