package net.tcpmssd.bpf;

/**
 * The kernel helper functions tcpmssd's programs call, by the number bpf.h's __BPF_FUNC_MAPPER
 * gives them (their position in that list: the numbers are ABI and never change).
 *
 * <p>None of these is GPL-only in the kernel (their bpf_func_proto sets gpl_only = false), so a
 * program that calls only these loads under any license string.
 */
public enum Helper {
    /** void *bpf_map_lookup_elem(map, key): a pointer to the value, or NULL. */
    MAP_LOOKUP_ELEM(1),
    /** long bpf_skb_store_bytes(skb, offset, from, len, flags): writes packet bytes. */
    SKB_STORE_BYTES(9),
    /** long bpf_l3_csum_replace(skb, offset, from, to, flags): updates an IP header checksum. */
    L3_CSUM_REPLACE(10),
    /** long bpf_l4_csum_replace(skb, offset, from, to, flags): updates a TCP/UDP checksum, CHECKSUM_PARTIAL aware. */
    L4_CSUM_REPLACE(11),
    /** long bpf_skb_load_bytes(skb, offset, to, len): copies packet bytes out, also from non-linear data. */
    SKB_LOAD_BYTES(26),
    /** long bpf_skb_change_tail(skb, len, flags): grows or shrinks the packet at its end. */
    SKB_CHANGE_TAIL(38),
    /** long bpf_ringbuf_output(ringbuf, data, size, flags): copies a record into a ring buffer, or fails if it is full. */
    RINGBUF_OUTPUT(130);

    final int number;

    Helper(int number) {
        this.number = number;
    }
}
