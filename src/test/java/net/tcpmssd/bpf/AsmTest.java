package net.tcpmssd.bpf;

import static net.tcpmssd.bpf.Register.FP;
import static net.tcpmssd.bpf.Register.R0;
import static net.tcpmssd.bpf.Register.R1;
import static net.tcpmssd.bpf.Register.R2;
import static net.tcpmssd.bpf.Register.R3;
import static net.tcpmssd.bpf.Register.R6;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Encodings checked by hand against bpf.h's struct bpf_insn (code; dst_reg:4 low, src_reg:4 high;
 * s16 off; s32 imm; little-endian on this host) and the opcode tables of bpf.h / bpf_common.h.
 */
class AsmTest {

    private static String hex(Asm asm) {
        return HexFormat.ofDelimiter(" ").formatHex(asm.assemble());
    }

    @Test
    void registerMoveAndImmediateMove() {
        // ALU64 0x07 | MOV 0xb0 | X 0x08 = 0xbf; dst 6, src 1 -> 0x16.
        assertThat(hex(new Asm().mov(R6, R1))).isEqualTo("bf 16 00 00 00 00 00 00");
        // ALU64 | MOV | K = 0xb7; imm -1.
        assertThat(hex(new Asm().mov(R0, -1))).isEqualTo("b7 00 00 00 ff ff ff ff");
        // ALU (32-bit) 0x04 | AND 0x50 | K = 0x54.
        assertThat(hex(new Asm().alu32(AluOp.AND, R2, 0xf))).isEqualTo("54 02 00 00 0f 00 00 00");
        // ALU64 | ADD | X = 0x0f.
        assertThat(hex(new Asm().alu64(AluOp.ADD, R2, R3))).isEqualTo("0f 32 00 00 00 00 00 00");
        // ALU64 | LSH | K = 0x67.
        assertThat(hex(new Asm().alu64(AluOp.LSH, R3, 2))).isEqualTo("67 03 00 00 02 00 00 00");
    }

    @Test
    void byteSwapToNetworkOrder() {
        // ALU 0x04 | END 0xd0 | TO_BE 0x08 = 0xdc, imm = width.
        assertThat(hex(new Asm().toBigEndian(R3, 16))).isEqualTo("dc 03 00 00 10 00 00 00");
        assertThatThrownBy(() -> new Asm().toBigEndian(R3, 8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void loadsAndStores() {
        // LDX 0x01 | MEM 0x60 | W 0x00 = 0x61: r2 = *(u32 *)(r6 + 16), skb->protocol.
        assertThat(hex(new Asm().load(Size.W, R2, R6, 16))).isEqualTo("61 62 10 00 00 00 00 00");
        // LDX | MEM | H = 0x69, offset -6.
        assertThat(hex(new Asm().load(Size.H, R2, FP, -6))).isEqualTo("69 a2 fa ff 00 00 00 00");
        // STX 0x03 | MEM | DW 0x18 = 0x7b: *(u64 *)(r10 - 8) = r1.
        assertThat(hex(new Asm().store(Size.DW, FP, -8, R1))).isEqualTo("7b 1a f8 ff 00 00 00 00");
        // ST 0x02 | MEM | B 0x10 = 0x72: *(u8 *)(r10 - 1) = 7.
        assertThat(hex(new Asm().store(Size.B, FP, -1, 7))).isEqualTo("72 0a ff ff 07 00 00 00");
    }

    @Test
    void sixtyFourBitImmediateTakesTwoSlots() {
        // LD 0x00 | IMM 0x00 | DW 0x18 = 0x18; the second slot holds the upper half.
        assertThat(hex(new Asm().loadImm64(R2, 0x1122334455667788L)))
                .isEqualTo("18 02 00 00 88 77 66 55 00 00 00 00 44 33 22 11");
        // BPF_PSEUDO_MAP_FD (1) in the source register, the fd in the immediate.
        assertThat(hex(new Asm().loadMap(R1, 5)))
                .isEqualTo("18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00");
    }

    @Test
    void callAndExit() {
        // JMP 0x05 | CALL 0x80 = 0x85, imm = helper number (bpf_skb_load_bytes is 26).
        assertThat(hex(new Asm().call(Helper.SKB_LOAD_BYTES))).isEqualTo("85 00 00 00 1a 00 00 00");
        // JMP | EXIT 0x90 = 0x95.
        assertThat(hex(new Asm().exit())).isEqualTo("95 00 00 00 00 00 00 00");
    }

    @Test
    void jumpsResolveLabelsInSlotsFromTheNextInstruction() {
        Asm asm = new Asm()
                .label("top")
                .jump(JumpOp.EQ, R1, 0, "out")        // 0: over the LD_IMM64 (2 slots) and the ja: +3
                .loadImm64(R2, 1)                         // 1-2
                .jump("top")                              // 3: back to 0: -4
                .label("out")
                .jump32(JumpOp.LT, R2, R3, "end")     // 4: to 6: +1
                .mov(R0, 0)                               // 5
                .label("end")
                .exit();                                  // 6
        byte[] code = asm.assemble();
        assertThat(code).hasSize(8 * 7);
        String all = HexFormat.ofDelimiter(" ").formatHex(code);
        // JMP | JEQ 0x10 | K = 0x15, off +3.
        assertThat(all).startsWith("15 01 03 00 00 00 00 00");
        // JA = 0x05, off -4.
        assertThat(all.substring(3 * 24, 4 * 24 - 1)).isEqualTo("05 00 fc ff 00 00 00 00");
        // JMP32 0x06 | JLT 0xa0 | X 0x08 = 0xae; dst 2, src 3 -> 0x32; off +1.
        assertThat(all.substring(4 * 24, 5 * 24 - 1)).isEqualTo("ae 32 01 00 00 00 00 00");
    }

    @Test
    void undefinedOrDuplicateLabelsAreRefused() {
        assertThatThrownBy(() -> new Asm().jump("nowhere").assemble()).hasMessageContaining("nowhere");
        assertThatThrownBy(() -> new Asm().label("a").label("a")).hasMessageContaining("twice");
    }

    @Test
    void valuesThatDoNotFitAreRefused() {
        assertThatThrownBy(() -> new Asm().load(Size.B, R1, R2, 40000)).hasMessageContaining("16 bits");
    }
}
