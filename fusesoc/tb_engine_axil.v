// Smoke test of engine-axil for the FuseSoC `sim` target (Icarus): a host on the
// AXI4-Lite port, no memory traffic.  It checks the identity and configuration
// registers, two illegal accesses (SLVERR), and two descriptors the engine
// rejects without touching memory (unknown direction, misaligned address): their
// statuses come back through the status queue and raise the interrupt, and the
// counters count them.  The full driver-style bench is sim/engine/test_axil.py.
// Prints PASS and ends with $finish, or FAIL and $fatal.
`timescale 1ns/1ps
`include "cdma_regs.vh"

module tb_engine_axil #(
    parameter ELEM_BITS = 32,
    parameter MEM_BYTES = 64,
    parameter PCIE_BYTES = 32
);
    reg clk = 1'b0;
    reg rst = 1'b1;
    always #2 clk = ~clk;

    reg [7:0] awaddr = 8'h0, araddr = 8'h0;
    reg [31:0] wdata = 32'h0;
    reg [3:0] wstrb = 4'h0;
    reg awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0, arvalid = 1'b0, rready = 1'b0;
    wire awready, wready, bvalid, arready, rvalid, irq;
    wire [1:0] bresp, rresp;
    wire [31:0] rdata;

    cdma_engine_axil dut (
        .clk(clk), .rst(rst),
        .m_axi_awready(1'b0), .m_axi_wready(1'b0), .m_axi_bid(1'b0), .m_axi_bresp(2'b00),
        .m_axi_bvalid(1'b0), .m_axi_arready(1'b0), .m_axi_rid(1'b0),
        .m_axi_rdata({8 * MEM_BYTES{1'b0}}), .m_axi_rresp(2'b00), .m_axi_rlast(1'b0),
        .m_axi_rvalid(1'b0),
        .m_axis_c2h_tready(1'b1),
        .s_axis_h2c_tdata({8 * PCIE_BYTES{1'b0}}), .s_axis_h2c_tkeep({PCIE_BYTES{1'b0}}),
        .s_axis_h2c_tlast(1'b0), .s_axis_h2c_tvalid(1'b0),
        .s_axil_awaddr(awaddr), .s_axil_awprot(3'b000), .s_axil_awvalid(awvalid),
        .s_axil_awready(awready), .s_axil_wdata(wdata), .s_axil_wstrb(wstrb),
        .s_axil_wvalid(wvalid), .s_axil_wready(wready), .s_axil_bresp(bresp),
        .s_axil_bvalid(bvalid), .s_axil_bready(bready), .s_axil_araddr(araddr),
        .s_axil_arprot(3'b000), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
        .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid),
        .s_axil_rready(rready), .irq(irq)
    );

    task axil_write(input [7:0] a, input [31:0] d, output [1:0] resp);
        begin
            @(negedge clk);
            awaddr = a; wdata = d; wstrb = 4'hf; awvalid = 1'b1; wvalid = 1'b1; bready = 1'b1;
            #1;
            while (!(awready && wready)) begin @(negedge clk); #1; end
            @(posedge clk); #1;
            awvalid = 1'b0; wvalid = 1'b0;
            while (!bvalid) begin @(posedge clk); #1; end
            resp = bresp;
            @(posedge clk); #1;
            bready = 1'b0;
        end
    endtask

    task axil_read(input [7:0] a, output [31:0] d, output [1:0] resp);
        begin
            @(negedge clk);
            araddr = a; arvalid = 1'b1; rready = 1'b1;
            #1;
            while (!arready) begin @(negedge clk); #1; end
            @(posedge clk); #1;
            arvalid = 1'b0;
            while (!rvalid) begin @(posedge clk); #1; end
            d = rdata; resp = rresp;
            @(posedge clk); #1;
            rready = 1'b0;
        end
    endtask

    reg [31:0] d;
    reg [1:0] r;
    integer errors = 0;
    integer k;

    task expect_read(input [7:0] a, input [31:0] want, input [1:0] want_resp);
        begin
            axil_read(a, d, r);
            if (d !== want || r !== want_resp) begin
                $display("FAIL: read %h gave %h (resp %0d), expected %h (resp %0d)",
                         a, d, r, want, want_resp);
                errors = errors + 1;
            end
        end
    endtask

    task expect_write(input [7:0] a, input [31:0] value, input [1:0] want_resp);
        begin
            axil_write(a, value, r);
            if (r !== want_resp) begin
                $display("FAIL: write %h to %h answered %0d, expected %0d", value, a, r, want_resp);
                errors = errors + 1;
            end
        end
    endtask

    task wait_irq;
        begin
            k = 0;
            while (!irq && k < 2000) begin @(posedge clk); k = k + 1; end
            if (!irq) begin
                $display("FAIL: no interrupt");
                errors = errors + 1;
            end
        end
    endtask

    initial begin
        repeat (5) @(posedge clk);
        #1 rst = 1'b0;
        expect_read(`CDMA_REG_ID, `CDMA_ID, 2'd0);
        expect_read(`CDMA_REG_VERSION, `CDMA_VERSION, 2'd0);
        axil_read(`CDMA_REG_CONFIG0, d, r);
        if (d[7:0] != ELEM_BITS || d[15:8] != MEM_BYTES || d[23:16] != PCIE_BYTES) begin
            $display("FAIL: CONFIG0 %h does not describe this build", d);
            errors = errors + 1;
        end
        expect_write(`CDMA_REG_ID, 32'h1, 2'd2);           // read-only
        expect_read(8'hfc, 32'h0, 2'd2);                  // unmapped
        expect_write(`CDMA_REG_IRQ_ENABLE, 32'h1, 2'd0);
        // unknown direction (3): answered DESC_DIRECTION (24), nothing read or written
        expect_write(`CDMA_REG_DESC_ADDR_LO, 32'h0, 2'd0);
        expect_write(`CDMA_REG_DESC_ADDR_HI, 32'h0, 2'd0);
        expect_write(`CDMA_REG_DESC_LENGTH, 32'd64, 2'd0);
        expect_write(`CDMA_REG_DESC_CTRL, 32'h00030105, 2'd0);   // tag 5, ZVC, direction 3
        expect_write(`CDMA_REG_DOORBELL, 32'h1, 2'd0);
        wait_irq;
        expect_read(`CDMA_REG_STATUS_COUNT, 32'd1, 2'd0);
        expect_read(`CDMA_REG_STATUS_LO, 32'd0, 2'd0);
        expect_read(`CDMA_REG_STATUS_HI, 32'h00031805, 2'd0);    // tag 5, code 24, dir 3
        expect_read(`CDMA_REG_STATUS_HI, 32'h0, 2'd2);           // queue empty now
        // offload from a misaligned address: DESC_ALIGN (16)
        expect_write(`CDMA_REG_DESC_ADDR_LO, 32'h4, 2'd0);
        expect_write(`CDMA_REG_DESC_CTRL, 32'h00000106, 2'd0);   // tag 6, ZVC, offload
        expect_write(`CDMA_REG_DOORBELL, 32'h1, 2'd0);
        wait_irq;
        expect_read(`CDMA_REG_STATUS_LO, 32'd0, 2'd0);
        expect_read(`CDMA_REG_STATUS_HI, 32'h00001006, 2'd0);    // tag 6, code 16, dir 0
        expect_read(`CDMA_REG_OFF_DONE_LO, 32'd2, 2'd0);
        expect_read(`CDMA_REG_OFF_ERRORS_LO, 32'd2, 2'd0);
        expect_read(`CDMA_REG_OFF_RAW_BYTES_LO, 32'd0, 2'd0);
        repeat (3) @(posedge clk);
        if (irq) begin
            $display("FAIL: irq still high with the status queue empty");
            errors = errors + 1;
        end
        if (errors) $fatal(1, "FAIL: %0d errors", errors);
        $display("PASS: tb_engine_axil");
        $finish;
    end

    initial begin
        #200000;
        $fatal(1, "FAIL: time-out");
    end
endmodule
