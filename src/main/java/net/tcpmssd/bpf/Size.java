package net.tcpmssd.bpf;

/** The width of a memory access: the size field of LDX, STX and ST (bpf.h: BPF_W, BPF_H, BPF_B, BPF_DW). */
public enum Size {
    /** 32 bits. */
    W(0x00, 4),
    /** 16 bits. */
    H(0x08, 2),
    /** 8 bits. */
    B(0x10, 1),
    /** 64 bits. */
    DW(0x18, 8);

    final int code;
    /** Bytes accessed. */
    public final int bytes;

    Size(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }
}
