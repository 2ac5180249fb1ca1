package net.tcpmssd.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import net.tcpmssd.os.ErrnoException;

/**
 * {@code --pmtu}'s maps for the clamping program: the routes, already resolved to the answer
 * the queue path would give (see net.tcpmssd.mss.FlatRoutes), and the interfaces' MTUs, in one
 * LPM trie; the program finds the trie in an ARRAY_OF_MAPS of one slot, {@code tcpmssd_pmtu}.
 *
 * <p>Each change is a whole new trie, filled while the program still reads the old one, then
 * put in the slot with one update: a SYN sees the old table or the new one, never a table half
 * written. A tc program runs inside an RCU read-side section, and newer kernels free a
 * replaced inner map only after a grace period (kernel commit "bpf: Defer the free of inner map
 * when necessary"); older ones, Debian 12's 6.1 among them, may free it as soon as its last
 * reference goes. So the daemon keeps the fd of a replaced trie open until the publish after
 * the one that replaced it (the route mirror publishes at most every 100 ms), and it is freed
 * only long after any program that found it in the slot has finished, whatever the kernel.
 *
 * <p>The trie's key: struct { u32 prefixlen; u32 space; u8 address[16]; } in host order but for
 * the address (network order). {@code space} keeps the three kinds of entry apart in one trie:
 * {@link #SPACE_IPV4} and {@link #SPACE_IPV6} hold route prefixes (prefixlen 32 + the route's
 * length), {@link #SPACE_LINK} holds interfaces, their ifindex in host order where the address
 * starts (prefixlen 64, an exact match). One trie, so that routes and MTUs change together.
 *
 * <p>The value: struct { u32 mtu; u32 metric; u32 flags; u32 devices[16]; }. For a prefix:
 * {@code mtu} is the route's MTU for an address under it, the way back to a source or, where
 * the outgoing interface is not known (at ingress), toward a destination (0: an interface
 * decides: the one the SYN came in by, or none known); {@code metric} the route's mtu metric
 * toward a destination under it (0: none), which counts only if the packet leaves by one of
 * {@code devices} (0 ends the list). {@link #INCOMPLETE} in {@code flags} marks the one entry of
 * an IP version whose routes are too many to keep (at prefix length 0 of its space; mtu no
 * limit): at ingress the SYN then gets the MTU of the interface it came in by. For an
 * interface: its MTU in {@code mtu}.
 *
 * <p>Bounded: at most {@link #MAX_ENTRIES} entries, what RouteTable keeps (16,384 routes per IP
 * version, 65,536 interfaces); entries are allocated as added (BPF_F_NO_PREALLOC, which the
 * kernel requires of an LPM trie), about 100 bytes each.
 */
public final class PathMtuMaps implements AutoCloseable {

    static final int KEY_SIZE = 4 + 4 + 16;
    static final int DEVICES = 16;
    static final int VALUE_SIZE = 4 + 4 + 4 + 4 * DEVICES;
    static final int SPACE_LINK = 1;
    static final int SPACE_IPV4 = 4;
    static final int SPACE_IPV6 = 6;
    /** Offsets in the value. */
    static final int MTU = 0;
    static final int METRIC = 4;
    static final int FLAGS = 8;
    static final int DEVICE_LIST = 12;
    static final int INCOMPLETE = 1;

    /** Two IP versions' routes at RouteTable's bound and its interfaces. */
    public static final int MAX_ENTRIES = 2 * 16_384 + 65_536;

    private static final int BPF_F_NO_PREALLOC = 1;

    private final BpfMap slot;
    /** The trie in the slot now, and the one it replaced, kept until the next publish (see the class comment). */
    private BpfMap current;
    private BpfMap replaced;
    private long publishedAt; // System.nanoTime() of the last publish
    /** How long a replaced trie stays open at the least: far beyond any program's run and RCU grace period. */
    private static final long KEEP_REPLACED_NANOS = 100_000_000L;

    private PathMtuMaps(BpfMap slot) {
        this.slot = slot;
    }

    /** The slot, empty: until the first {@link #publish}, the program changes nothing. */
    public static PathMtuMaps create() throws ErrnoException {
        try (BpfMap template = newTrie()) {
            return new PathMtuMaps(BpfMap.create(MapType.ARRAY_OF_MAPS, "tcpmssd_pmtu", 4, 4, 1, 0, template.fd()));
        }
    }

    private static BpfMap newTrie() throws ErrnoException {
        return BpfMap.create(MapType.LPM_TRIE, "tcpmssd_paths", KEY_SIZE, VALUE_SIZE, MAX_ENTRIES, BPF_F_NO_PREALLOC, 0);
    }

    /** A new, empty table: fill it, then {@link #publish} it. */
    public Table begin() throws ErrnoException {
        return new Table(newTrie());
    }

    /**
     * Puts the table in force for the next SYN. Its fd is kept; the trie replaced the publish
     * before is let go of now, a whole publish after it left the slot.
     */
    public synchronized void publish(Table table) throws ErrnoException {
        try {
            slot.update(ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0).array(),
                    ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(table.trie.fd()).array());
        } catch (ErrnoException e) {
            table.close();
            throw e;
        }
        if (replaced != null) {
            replaced.close();
        }
        replaced = current;
        current = table.trie;
        publishedAt = System.nanoTime();
    }

    int slotFd() {
        return slot.fd();
    }

    @Override
    public synchronized void close() {
        // The trie replaced last may have left the slot a moment ago (a SIGTERM or SIGUSR2 just
        // after a publish, the program perhaps still running): it too waits out its time.
        long left = KEEP_REPLACED_NANOS - (System.nanoTime() - publishedAt);
        if (replaced != null && left > 0) {
            try {
                Thread.sleep(left / 1_000_000 + 1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        slot.close();
        for (BpfMap trie : new BpfMap[] {current, replaced}) {
            if (trie != null) {
                trie.close();
            }
        }
        current = null;
        replaced = null;
    }

    /** One table being filled, not yet seen by any program; closing it unpublished frees it. */
    public static final class Table implements AutoCloseable {
        private final BpfMap trie;
        private int entries;

        private Table(BpfMap trie) {
            this.trie = trie;
        }

        /**
         * A route prefix ({@code high:low / length}, an IPv4 address in the top 32 bits of
         * {@code high}) and what holds under it.
         */
        public void route(int version, long high, long low, int length, int mtu, int metric, int[] devices) throws ErrnoException {
            if (devices.length > DEVICES) {
                throw new IllegalArgumentException(devices.length + " devices, the map holds " + DEVICES);
            }
            ByteBuffer key = key(32 + length, version == 6 ? SPACE_IPV6 : SPACE_IPV4);
            key.order(ByteOrder.BIG_ENDIAN);
            if (version == 6) {
                key.putLong(high).putLong(low);
            } else {
                key.putInt((int) (high >>> 32));
            }
            ByteBuffer value = value(mtu, metric, 0);
            for (int device : devices) {
                value.putInt(device);
            }
            put(key, value);
        }

        /** An interface's MTU. */
        public void link(int ifindex, int mtu) throws ErrnoException {
            put(key(64, SPACE_LINK).putInt(ifindex), value(mtu, 0, 0));
        }

        /** This IP version has more routes than the copy keeps: the one entry of its space (see the class comment). */
        public void incomplete(int version, int noLimit) throws ErrnoException {
            put(key(32, version == 6 ? SPACE_IPV6 : SPACE_IPV4), value(noLimit, 0, INCOMPLETE));
        }

        private static ByteBuffer key(int prefixLength, int space) {
            return ByteBuffer.allocate(KEY_SIZE).order(ByteOrder.nativeOrder()).putInt(prefixLength).putInt(space);
        }

        private static ByteBuffer value(int mtu, int metric, int flags) {
            return ByteBuffer.allocate(VALUE_SIZE).order(ByteOrder.nativeOrder()).putInt(mtu).putInt(metric).putInt(flags);
        }

        private void put(ByteBuffer key, ByteBuffer value) throws ErrnoException {
            if (entries == MAX_ENTRIES) {
                throw new IllegalStateException("more than " + MAX_ENTRIES + " entries"); // RouteTable's bounds keep below it
            }
            trie.update(key.array(), value.array());
            entries++;
        }

        public int entries() {
            return entries;
        }

        @Override
        public void close() {
            trie.close();
        }
    }
}
