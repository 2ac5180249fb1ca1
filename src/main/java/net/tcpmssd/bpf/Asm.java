package net.tcpmssd.bpf;

import static net.tcpmssd.bpf.Instruction.ALU;
import static net.tcpmssd.bpf.Instruction.ALU64;
import static net.tcpmssd.bpf.Instruction.CALL;
import static net.tcpmssd.bpf.Instruction.END;
import static net.tcpmssd.bpf.Instruction.EXIT;
import static net.tcpmssd.bpf.Instruction.JMP;
import static net.tcpmssd.bpf.Instruction.JMP32;
import static net.tcpmssd.bpf.Instruction.K;
import static net.tcpmssd.bpf.Instruction.LDX;
import static net.tcpmssd.bpf.Instruction.LD_IMM64;
import static net.tcpmssd.bpf.Instruction.MEM;
import static net.tcpmssd.bpf.Instruction.ST;
import static net.tcpmssd.bpf.Instruction.STX;
import static net.tcpmssd.bpf.Instruction.X;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An eBPF assembler: appends typed instructions, with jumps to symbolic labels, and assembles them
 * into the byte array BPF_PROG_LOAD takes. Modelled on the idea of cilium/ebpf's asm package (an
 * instruction list with labels, resolved once at the end); written for tcpmssd's needs only.
 *
 * <p>A label names the instruction appended next. A jump's offset counts 8-byte slots from the
 * instruction after the jump (bpf.h: "PC += off"), so an LD_IMM64 in between counts twice.
 */
public final class Asm {

    /** BPF_PSEUDO_MAP_FD: in an LD_IMM64's source register, the immediate is a map's fd, which the verifier turns into the map's address. */
    static final int PSEUDO_MAP_FD = 1;

    private final List<Instruction> instructions = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();

    /** Names the next instruction appended; each name once. */
    public Asm label(String name) {
        if (labels.putIfAbsent(name, instructions.size()) != null) {
            throw new IllegalArgumentException("label " + name + " defined twice");
        }
        return this;
    }

    /** Appends any instruction, for what the shorthands below do not cover. */
    public Asm emit(Instruction instruction) {
        instructions.add(instruction);
        return this;
    }

    // ALU64: 64-bit arithmetic.

    public Asm alu64(AluOp op, Register dst, int imm) {
        return emit(new Instruction(ALU64 | op.code | K, dst, Register.R0, 0, imm, null));
    }

    public Asm alu64(AluOp op, Register dst, Register src) {
        return emit(new Instruction(ALU64 | op.code | X, dst, src, 0, 0, null));
    }

    // ALU: 32-bit arithmetic; the result is zero-extended to 64 bits.

    public Asm alu32(AluOp op, Register dst, int imm) {
        return emit(new Instruction(ALU | op.code | K, dst, Register.R0, 0, imm, null));
    }

    public Asm alu32(AluOp op, Register dst, Register src) {
        return emit(new Instruction(ALU | op.code | X, dst, src, 0, 0, null));
    }

    public Asm mov(Register dst, int imm) {
        return alu64(AluOp.MOV, dst, imm);
    }

    public Asm mov(Register dst, Register src) {
        return alu64(AluOp.MOV, dst, src);
    }

    /**
     * Converts the low {@code bits} (16, 32 or 64) of {@code dst} between host and network order
     * (BPF_END | BPF_TO_BE: a byte swap on a little-endian host, zero-extending).
     */
    public Asm toBigEndian(Register dst, int bits) {
        if (bits != 16 && bits != 32 && bits != 64) {
            throw new IllegalArgumentException("byte swap of " + bits + " bits");
        }
        return emit(new Instruction(ALU | END | X, dst, Register.R0, 0, bits, null));
    }

    // Memory.

    /** dst = *(size *)(src + offset). */
    public Asm load(Size size, Register dst, Register src, int offset) {
        return emit(new Instruction(LDX | MEM | size.code, dst, src, offset, 0, null));
    }

    /** *(size *)(dst + offset) = src. */
    public Asm store(Size size, Register dst, int offset, Register src) {
        return emit(new Instruction(STX | MEM | size.code, dst, src, offset, 0, null));
    }

    /** *(size *)(dst + offset) = imm. */
    public Asm store(Size size, Register dst, int offset, int imm) {
        return emit(new Instruction(ST | MEM | size.code, dst, Register.R0, offset, imm, null));
    }

    /** dst = a 64-bit immediate (two slots). */
    public Asm loadImm64(Register dst, long imm) {
        return emit(new Instruction(LD_IMM64, dst, Register.R0, 0, imm, null));
    }

    /** dst = the address of the map whose fd this process holds; the verifier rewrites the fd. */
    public Asm loadMap(Register dst, int mapFd) {
        return emit(new Instruction(LD_IMM64, dst, Register.values()[PSEUDO_MAP_FD], 0, mapFd & 0xffffffffL, null));
    }

    // Control flow.

    /** if (dst op imm) goto label, comparing all 64 bits. */
    public Asm jump(JumpOp op, Register dst, int imm, String label) {
        return emit(new Instruction(JMP | op.code | K, dst, Register.R0, 0, imm, label));
    }

    /** if (dst op src) goto label, comparing all 64 bits. */
    public Asm jump(JumpOp op, Register dst, Register src, String label) {
        return emit(new Instruction(JMP | op.code | X, dst, src, 0, 0, label));
    }

    /** if (dst op imm) goto label, comparing the low 32 bits. */
    public Asm jump32(JumpOp op, Register dst, int imm, String label) {
        return emit(new Instruction(JMP32 | op.code | K, dst, Register.R0, 0, imm, label));
    }

    /** if (dst op src) goto label, comparing the low 32 bits. */
    public Asm jump32(JumpOp op, Register dst, Register src, String label) {
        return emit(new Instruction(JMP32 | op.code | X, dst, src, 0, 0, label));
    }

    public Asm jump(String label) {
        return emit(new Instruction(JMP | JumpOp.ALWAYS.code, Register.R0, Register.R0, 0, 0, label));
    }

    /** Calls a kernel helper: arguments in R1 to R5, result in R0; R1 to R5 are clobbered. */
    public Asm call(Helper helper) {
        return emit(new Instruction(JMP | CALL, Register.R0, Register.R0, 0, helper.number, null));
    }

    /** Returns R0 from the program. */
    public Asm exit() {
        return emit(new Instruction(JMP | EXIT, Register.R0, Register.R0, 0, 0, null));
    }

    /** The instructions so far, labels unresolved. */
    public List<Instruction> instructions() {
        return List.copyOf(instructions);
    }

    /** Resolves every label and encodes the program: what BPF_PROG_LOAD's insns points at. */
    public byte[] assemble() {
        int[] slotOf = new int[instructions.size() + 1];
        for (int i = 0; i < instructions.size(); i++) {
            slotOf[i + 1] = slotOf[i] + instructions.get(i).slots();
        }
        ByteBuffer out = ByteBuffer.allocate(slotOf[instructions.size()] * 8);
        for (int i = 0; i < instructions.size(); i++) {
            Instruction instruction = instructions.get(i);
            if (instruction.target() != null) {
                Integer target = labels.get(instruction.target());
                if (target == null) {
                    throw new IllegalStateException("jump to undefined label " + instruction.target());
                }
                instruction = instruction.withOffset(slotOf[target] - slotOf[i + 1]);
            }
            instruction.encode(out);
        }
        return out.array();
    }
}
