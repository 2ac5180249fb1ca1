package net.tcpmssd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import net.tcpmssd.attach.Hook;
import net.tcpmssd.attach.TcxRecord;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The {@link TcxRecord} of one served interface, a small file beside its lock,
 * {@code /run/tcpmssd/served.NETNS.IFINDEX.tcx} (BEHAVIOUR §7), read by the daemon that takes
 * the lock and rewritten by it at each attach and detach:
 *
 * <pre>
 * boot 0f6c2d5e-...      the kernel's boot_id when written
 * egress 1234
 * ingress 1235
 * </pre>
 *
 * <p>What is not trusted: a file from another boot (ids start again at each boot; /run is
 * normally a tmpfs, but a container's may not be), one that is not a regular file of ours or
 * root's, one larger than a record can be, or one with any line out of this form; each is
 * ignored whole, with a warning, as if there were none. A missing file is no record. Written as
 * root, perhaps in a directory others can write: the new text goes into a file of its own
 * (opened as {@link OwnFile} opens, never through a link), which rename(2) then puts in place,
 * so that a daemon killed while writing leaves the old record or the new one, never half of
 * one. A record with no id at either hook is removed (SIGTERM, or the interface gone). A write
 * that fails is logged once: clamping goes on, and only a later daemon without CAP_SYS_ADMIN
 * would not know the program as tcpmssd's.
 */
final class TcxRecordFile implements TcxRecord {

    static final String SUFFIX = ".tcx";
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
    /** At most 64 programs in a tcx chain (bpf_mprog_max()); a record of two hooks is far below this. */
    private static final int MAX_IDS = 64;
    private static final int MAX_SIZE = 4096;

    private final Path path;
    private final Log log;
    private final String boot;
    private final Map<Hook, Set<Integer>> ids = new EnumMap<>(Hook.class);
    /** What the last write's failure said, "" after one that worked: each failure logged once. */
    private String trouble = "";

    private TcxRecordFile(Path path, Log log, String boot) {
        this.path = path;
        this.log = log;
        this.boot = boot;
        for (Hook hook : Hook.values()) {
            ids.put(hook, Set.of());
        }
    }

    /** The record at {@code path} as an earlier daemon left it, or an empty one. */
    static TcxRecordFile read(Path path, Log log) {
        TcxRecordFile record = new TcxRecordFile(path, log, bootId());
        String text;
        try {
            text = readOwn(path);
        } catch (ErrnoException e) {
            if (e.errno() != Libc.ENOENT) {
                log.warning("ignoring " + path + ": " + (e.errno() == Libc.ELOOP ? "it is a symbolic link" : e.reason()));
            }
            return record;
        } catch (IOException e) {
            log.warning("ignoring " + path + ": " + e.getMessage());
            return record;
        }
        String problem = record.parse(text);
        if (problem != null) {
            log.warning("ignoring " + path + ": " + problem);
            record.ids.replaceAll((hook, none) -> Set.of());
        }
        return record;
    }

    @Override
    public synchronized Set<Integer> ids(Hook hook) {
        return ids.get(hook);
    }

    @Override
    public synchronized void write(Hook hook, Set<Integer> hookIds) {
        ids.put(hook, Set.copyOf(hookIds));
        try { // each time, also when nothing changed: a file ignored at the start (garbled, another boot's) goes too
            if (ids.values().stream().allMatch(Set::isEmpty)) {
                Files.deleteIfExists(path); // unlink(2): a link put in its place goes, never what it points to
            } else {
                replace(text());
            }
            trouble = "";
        } catch (IOException e) {
            String now = "can't record the tcx programs for the next daemon in " + path + ": " + e.getMessage()
                    + "; one without CAP_SYS_ADMIN will not know them as tcpmssd's";
            if (!now.equals(trouble)) {
                log.warning(now);
            }
            trouble = now;
        }
    }

    private String text() {
        StringBuilder text = new StringBuilder("boot ").append(boot).append('\n');
        for (Hook hook : Hook.values()) {
            if (!ids.get(hook).isEmpty()) {
                text.append(hook.name().toLowerCase(Locale.ROOT));
                ids.get(hook).stream().sorted().forEach(id -> text.append(' ').append(id));
                text.append('\n');
            }
        }
        return text.toString();
    }

    /** Reads {@code text} into the ids; what is wrong with it, or null. */
    private String parse(String text) {
        boolean bootSeen = false;
        for (String line : text.split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            String[] words = line.split(" ");
            if (words[0].equals("boot") && words.length == 2 && !bootSeen) {
                if (!words[1].equals(boot)) {
                    return "written before the last boot";
                }
                bootSeen = true;
                continue;
            }
            Hook hook = switch (words[0]) {
                case "egress" -> Hook.EGRESS;
                case "ingress" -> Hook.INGRESS;
                default -> null;
            };
            if (hook == null || !ids.get(hook).isEmpty() || words.length < 2 || words.length > MAX_IDS + 1) {
                return "not a record of tcx programs";
            }
            Set<Integer> hookIds = new TreeSet<>();
            for (int i = 1; i < words.length; i++) {
                if (!words[i].matches("[1-9][0-9]{0,9}") || Long.parseLong(words[i]) > Integer.MAX_VALUE) {
                    return "not a record of tcx programs";
                }
                hookIds.add(Integer.parseInt(words[i]));
            }
            ids.put(hook, Set.copyOf(hookIds));
        }
        return bootSeen ? null : "not a record of tcx programs";
    }

    /** The file's text, if it is a regular file of ours or root's, opened without following a link. */
    private static String readOwn(Path path) throws IOException {
        byte[] bytes = OwnFile.read(path, MAX_SIZE + 1);
        if (bytes.length > MAX_SIZE) {
            throw new IOException("larger than a record can be");
        }
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** The new text into a file of its own, then renamed over the record: the old or the new, whole. */
    private void replace(String text) throws IOException {
        OwnFile.replace(path, text.getBytes(StandardCharsets.US_ASCII), Pidfile.MODE, "tcx record");
    }

    /** This boot's id: ids of programs are given anew at each boot, so a record of another is not ours. */
    private static String bootId() {
        try {
            return Files.readString(BOOT_ID).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
