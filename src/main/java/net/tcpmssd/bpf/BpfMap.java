package net.tcpmssd.bpf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import net.tcpmssd.os.ErrnoException;

/**
 * A BPF map this process created (BPF_MAP_CREATE), read and written by u32 index, as array maps
 * are, or by a key of bytes (an LPM trie's). Closing it frees the map unless a loaded program or
 * another map still refers to it.
 */
public final class BpfMap implements AutoCloseable {

    private final OwnedFd fd;
    private final MapType type;
    private final int valueSize;

    private BpfMap(OwnedFd fd, MapType type, int valueSize) {
        this.fd = fd;
        this.type = type;
        this.valueSize = valueSize;
    }

    /** Creates a map; {@code name} (at most 15 characters of [A-Za-z0-9_.]) is what bpftool and /proc show. */
    public static BpfMap create(MapType type, String name, int keySize, int valueSize, int maxEntries) throws ErrnoException {
        return create(type, name, keySize, valueSize, maxEntries, 0, 0);
    }

    /**
     * As above with map_flags and, for a map of maps, {@code innerMapFd}: a map of the shape its
     * values must have (0: none).
     */
    public static BpfMap create(MapType type, String name, int keySize, int valueSize, int maxEntries, int flags,
            int innerMapFd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(BpfCommand.MAP_CREATE.attrSize);
            attr.set(JAVA_INT, 0, type.number);
            attr.set(JAVA_INT, 4, keySize);
            attr.set(JAVA_INT, 8, valueSize);
            attr.set(JAVA_INT, 12, maxEntries);
            attr.set(JAVA_INT, 16, flags);
            attr.set(JAVA_INT, 20, innerMapFd);
            putName(attr, 28, name); // map_name[16], after map_flags, inner_map_fd, numa_node
            return new BpfMap(new OwnedFd(BpfCommand.MAP_CREATE.run(attr)), type, valueSize);
        }
    }

    public int fd() {
        return fd.get();
    }

    /**
     * Bytes a value takes on the user side: valueSize, or for per-CPU maps valueSize rounded up
     * to 8 once per possible CPU (the layout the kernel copies, bpf_map_value_size()).
     */
    public int userValueSize() {
        return type == MapType.PERCPU_ARRAY ? ((valueSize + 7) & ~7) * PossibleCpus.COUNT : valueSize;
    }

    /** Replaces entry {@code index} with {@code value} (of {@link #userValueSize()} bytes). */
    public void update(int index, byte[] value) throws ErrnoException {
        if (value.length != userValueSize()) {
            throw new IllegalArgumentException("value of " + value.length + " bytes, map wants " + userValueSize());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(value.length, 8);
            MemorySegment.copy(MemorySegment.ofArray(value), 0, buffer, 0, value.length);
            element(BpfCommand.MAP_UPDATE_ELEM, index, buffer, arena);
        }
    }

    /** Adds or replaces the entry of this key (BPF_ANY); for a map of maps the value is a map's fd. */
    public void update(byte[] key, byte[] value) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            element(BpfCommand.MAP_UPDATE_ELEM, arena.allocateFrom(JAVA_BYTE, key), arena.allocateFrom(JAVA_BYTE, value), arena);
        }
    }

    /** The value stored under exactly this key (for an LPM trie: of its longest stored prefix). */
    public byte[] lookup(byte[] key) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(userValueSize(), 8);
            element(BpfCommand.MAP_LOOKUP_ELEM, arena.allocateFrom(JAVA_BYTE, key), buffer, arena);
            return buffer.toArray(JAVA_BYTE);
        }
    }

    /** Entry {@code index}, {@link #userValueSize()} bytes. */
    public byte[] lookup(int index) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(userValueSize(), 8);
            element(BpfCommand.MAP_LOOKUP_ELEM, index, buffer, arena);
            return buffer.toArray(JAVA_BYTE);
        }
    }

    /** For a per-CPU map of u64 values: entry {@code index} summed over every CPU. */
    public long sumOverCpus(int index) throws ErrnoException {
        MemorySegment values = MemorySegment.ofArray(lookup(index));
        long sum = 0;
        for (long at = 0; at < values.byteSize(); at += (valueSize + 7) & ~7) {
            sum += values.get(JAVA_LONG_UNALIGNED, at);
        }
        return sum;
    }

    // The element commands' attr: map_fd, 4 bytes of padding, then the key's and the value's
    // addresses (flags 0: BPF_ANY).
    private void element(BpfCommand command, int index, MemorySegment value, Arena arena) throws ErrnoException {
        element(command, arena.allocateFrom(JAVA_INT, index), value, arena);
    }

    private void element(BpfCommand command, MemorySegment key, MemorySegment value, Arena arena) throws ErrnoException {
        MemorySegment attr = arena.allocate(command.attrSize, 8);
        attr.set(JAVA_INT, 0, fd());
        attr.set(JAVA_LONG, 8, key.address());
        attr.set(JAVA_LONG, 16, value.address());
        command.run(attr);
    }

    /** Writes a BPF object name (char[16], NUL-terminated) at {@code offset}. */
    static void putName(MemorySegment attr, long offset, String name) {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length > 15) {
            throw new IllegalArgumentException("BPF object name longer than 15 characters: " + name);
        }
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, attr, offset, bytes.length);
    }

    @Override
    public void close() {
        fd.close();
    }

    /** The number of possible CPUs, which sizes per-CPU values: /sys/devices/system/cpu/possible, e.g. "0-3". */
    static final class PossibleCpus {
        static final int COUNT = read();

        private static int read() {
            try {
                int count = 0;
                for (String range : Files.readString(Path.of("/sys/devices/system/cpu/possible")).trim().split(",")) {
                    String[] ends = range.split("-");
                    count += ends.length == 1 ? 1 : Integer.parseInt(ends[1]) - Integer.parseInt(ends[0]) + 1;
                }
                return count;
            } catch (IOException | RuntimeException e) {
                // Guessing would misread every per-CPU value: better to stop loudly.
                throw new IllegalStateException("cannot read /sys/devices/system/cpu/possible", e);
            }
        }
    }
}
