package net.tcpmssd.bpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One eBPF instruction as bpf.h's struct bpf_insn lays it out: an 8-bit opcode, the destination
 * register in the low and the source register in the high nibble of the next byte, a signed
 * 16-bit offset and a signed 32-bit immediate, in the host's byte order (the kernel reads the
 * array as its own structs). LD_IMM64 is the one instruction of two slots: the second carries the
 * upper 32 bits of the immediate and is otherwise zero.
 *
 * <p>A jump may name its target by a label instead of an offset; {@link Asm} resolves it.
 */
public record Instruction(int opcode, Register dst, Register src, int offset, long immediate, String target) {

    // Instruction classes, the low three bits of the opcode (bpf.h, bpf_common.h).
    static final int LD = 0x00;
    static final int LDX = 0x01;
    static final int ST = 0x02;
    static final int STX = 0x03;
    static final int ALU = 0x04;
    static final int JMP = 0x05;
    static final int JMP32 = 0x06;
    static final int ALU64 = 0x07;

    // Source operand: the immediate (K) or the source register (X).
    static final int K = 0x00;
    static final int X = 0x08;

    // Memory modes.
    static final int IMM = 0x00;
    static final int MEM = 0x60;

    static final int CALL = 0x80;
    static final int EXIT = 0x90;
    static final int END = 0xd0;

    /** LD | IMM | DW: the 16-byte load of a 64-bit immediate. */
    static final int LD_IMM64 = LD | IMM | Size.DW.code;

    public Instruction {
        if (offset < Short.MIN_VALUE || offset > Short.MAX_VALUE) {
            throw new IllegalArgumentException("offset " + offset + " does not fit in 16 bits");
        }
        if (opcode != LD_IMM64 && (immediate < Integer.MIN_VALUE || immediate > Integer.MAX_VALUE)) {
            throw new IllegalArgumentException("immediate " + immediate + " does not fit in 32 bits");
        }
    }

    /** How many 8-byte slots it takes: 2 for LD_IMM64, else 1. Jump offsets count slots. */
    public int slots() {
        return opcode == LD_IMM64 ? 2 : 1;
    }

    boolean isJump() {
        int cls = opcode & 0x07;
        int op = opcode & 0xf0;
        return (cls == JMP || cls == JMP32) && op != CALL && op != EXIT;
    }

    Instruction withOffset(int resolved) {
        return new Instruction(opcode, dst, src, resolved, immediate, null);
    }

    /** Writes the instruction's {@link #slots()} times 8 bytes in the host's order. */
    void encode(ByteBuffer out) {
        out.order(ByteOrder.nativeOrder());
        out.put((byte) opcode);
        out.put((byte) ((src.number() << 4) | dst.number()));
        out.putShort((short) offset);
        out.putInt((int) immediate);
        if (opcode == LD_IMM64) {
            out.put((byte) 0).put((byte) 0).putShort((short) 0);
            out.putInt((int) (immediate >>> 32));
        }
    }
}
