package net.tcpmssd.bpf;




/** The map types tcpmssd uses, by their number in bpf.h's enum bpf_map_type. */
public enum MapType {
    /** Fixed entries indexed 0..max-1, all present from creation, zeroed. */
    ARRAY(2),
    /** As ARRAY, with one copy of each value per possible CPU: a program writes its own CPU's copy without atomics. */
    PERCPU_ARRAY(6),
    /** A ring buffer of records a program reserves and submits (key and value size 0, max_entries its size in bytes). */
    RINGBUF(27);

    final int number;

    MapType(int number) {
        this.number = number;
    }
}
