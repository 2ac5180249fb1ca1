package net.tcpmssd.bpf;




/** The map types tcpmssd uses, by their number in bpf.h's enum bpf_map_type. */
public enum MapType {
    /** Fixed entries indexed 0..max-1, all present from creation, zeroed. */
    ARRAY(2),
    /**
     * Longest-prefix match: a key is {u32 prefixlen; data}, compared bit by bit from the first
     * data byte; a lookup gives the value of the longest stored prefix of its key. The kernel
     * wants BPF_F_NO_PREALLOC (entries are allocated as they are added).
     */
    LPM_TRIE(11),
    /** An ARRAY whose values are other maps, of one shape: a program looks a map up, then in it. */
    ARRAY_OF_MAPS(12),
    /** As ARRAY, with one copy of each value per possible CPU: a program writes its own CPU's copy without atomics. */
    PERCPU_ARRAY(6),
    /** A ring buffer of records a program reserves and submits (key and value size 0, max_entries its size in bytes). */
    RINGBUF(27);

    final int number;

    MapType(int number) {
        this.number = number;
    }
}
