package net.tcpmssd.packet;

/** What became of one queued packet. Every outcome but CLAMPED leaves the packet byte-for-byte as it came. */
public enum Outcome {
    /** At least one MSS option was lowered and the TCP checksum updated. */
    CLAMPED("clamped"),
    /** --add-mss: a SYN without an MSS option got one. */
    MSS_ADDED("MSS added"),
    /** A SYN whose MSS options were all at or below the maximum already (an MSS is never raised). */
    MSS_SMALL_ENOUGH("MSS small enough"),
    /** A SYN with no MSS option (RFC 9293 §3.7.1: the peer then assumes 536 or 1220), or one the option walk could not reach. */
    NO_MSS_OPTION("no MSS option"),
    /** A TCP segment without SYN: the MSS option is only valid in SYNs (RFC 9293 §3.2). */
    NOT_SYN("not SYN"),
    /** Not TCP, or no TCP header visible: a later fragment, ESP, AH, an unknown IPv6 extension header. */
    NOT_TCP("not TCP"),
    /** An incoming packet, left alone because -b was not given. Decided by the daemon, never by the core. */
    INCOMING("incoming"),
    /** Lengths or versions that do not add up: the packet is passed on untouched, never dropped. */
    MALFORMED("malformed"),
    /**
     * Its handling threw: the packet was accepted as the kernel holds it, whatever had been
     * changed in tcpmssd's copy (BEHAVIOUR §8). Decided by the queue, never by the core.
     */
    FAILED("handling failed");

    private final String label;

    Outcome(String label) {
        this.label = label;
    }

    /** CLAMPED and MSS_ADDED: the packet goes back with a new payload. */
    public boolean changesPacket() {
        return this == CLAMPED || this == MSS_ADDED;
    }

    /** How the counters report name it. */
    public String label() {
        return label;
    }
}
