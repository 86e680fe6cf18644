; Tensor-core path as Tessera's lowering emits it, in LLVM IR with NVVM
; intrinsics: cp.async (16 bytes, with a source size) into shared memory,
; ldmatrix (x4 for A, x2.trans for B), mma.sync m16n8k16 (f16 and bf16),
; then a row softmax numerator: row max through shfl.sync.bfly within the
; quad, ex2.approx.ftz, and packing to f16x2. One warp.
; Compiled with llc-19 (and llc-22 when present) by tests/test_emu_llvm.c.
target datalayout = "e-i64:64-i128:128-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@sa = internal addrspace(3) global [256 x i16] undef, align 16
@sb = internal addrspace(3) global [128 x i16] undef, align 16

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier0()
declare void @llvm.nvvm.cp.async.cg.shared.global.16.s(ptr addrspace(3), ptr addrspace(1), i32)
declare void @llvm.nvvm.cp.async.commit.group()
declare void @llvm.nvvm.cp.async.wait.group(i32)
declare { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(ptr addrspace(3))
declare { i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x2.trans.b16.p3(ptr addrspace(3))
declare { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.f32.f32(<2 x half>, <2 x half>, <2 x half>, <2 x half>, <2 x half>, <2 x half>, float, float, float, float)
declare { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.bf16(i32, i32, i32, i32, i32, i32, float, float, float, float)
declare float @llvm.nvvm.shfl.sync.bfly.f32(i32, float, i32, i32)
declare float @llvm.nvvm.ex2.approx.ftz.f(float)
declare float @llvm.maxnum.f32(float, float)

; a: 16x16 halves row-major, b: 16 rows (k) of 8 halves, nb: bytes of b to
; copy (the rest is zero-filled), d: 32 lanes x 4 floats, p: 32 lanes x 2 x i32
define void @mma_softmax(ptr addrspace(1) noalias readonly %a, ptr addrspace(1) noalias readonly %b, i32 %nb, i32 %bf16, ptr addrspace(1) noalias %d, ptr addrspace(1) noalias %p) {
entry:
  %lane = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  ; copy A: 512 bytes, 16 per lane
  %aoff = mul i32 %lane, 16
  %sa.i = getelementptr i8, ptr addrspace(3) @sa, i32 %aoff
  %ga.i = getelementptr i8, ptr addrspace(1) %a, i32 %aoff
  call void @llvm.nvvm.cp.async.cg.shared.global.16.s(ptr addrspace(3) %sa.i, ptr addrspace(1) %ga.i, i32 16)
  ; copy B: 256 bytes, lanes 0..15, at most nb bytes from global
  %isb = icmp ult i32 %lane, 16
  br i1 %isb, label %copyb, label %copied
copyb:
  %sb.i = getelementptr i8, ptr addrspace(3) @sb, i32 %aoff
  %gb.i = getelementptr i8, ptr addrspace(1) %b, i32 %aoff
  %left = sub i32 %nb, %aoff
  %neg = icmp slt i32 %left, 0
  %left0 = select i1 %neg, i32 0, i32 %left
  %big = icmp ugt i32 %left0, 16
  %sz = select i1 %big, i32 16, i32 %left0
  call void @llvm.nvvm.cp.async.cg.shared.global.16.s(ptr addrspace(3) %sb.i, ptr addrspace(1) %gb.i, i32 %sz)
  br label %copied
copied:
  call void @llvm.nvvm.cp.async.commit.group()
  call void @llvm.nvvm.cp.async.wait.group(i32 0)
  call void @llvm.nvvm.barrier0()
  ; ldmatrix A: lane l gives row (l%8) + 8*((l/8)&1), column 8*(l/16)
  %r8 = and i32 %lane, 7
  %j = lshr i32 %lane, 3
  %j1 = and i32 %j, 1
  %rowhi = shl i32 %j1, 3
  %row = or i32 %r8, %rowhi
  %colblk = lshr i32 %lane, 4
  %col = shl i32 %colblk, 3
  %rowel = shl i32 %row, 4
  %ael = add i32 %rowel, %col
  %pa = getelementptr i16, ptr addrspace(3) @sa, i32 %ael
  %am = call { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(ptr addrspace(3) %pa)
  %a0 = extractvalue { i32, i32, i32, i32 } %am, 0
  %a1 = extractvalue { i32, i32, i32, i32 } %am, 1
  %a2 = extractvalue { i32, i32, i32, i32 } %am, 2
  %a3 = extractvalue { i32, i32, i32, i32 } %am, 3
  ; ldmatrix.trans B: lane l (< 16) gives row k = l
  %k = and i32 %lane, 15
  %bel = shl i32 %k, 3
  %pb = getelementptr i16, ptr addrspace(3) @sb, i32 %bel
  %bm = call { i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x2.trans.b16.p3(ptr addrspace(3) %pb)
  %b0 = extractvalue { i32, i32 } %bm, 0
  %b1 = extractvalue { i32, i32 } %bm, 1
  %usebf = icmp ne i32 %bf16, 0
  br i1 %usebf, label %bfmma, label %hmma
hmma:
  %ha0 = bitcast i32 %a0 to <2 x half>
  %ha1 = bitcast i32 %a1 to <2 x half>
  %ha2 = bitcast i32 %a2 to <2 x half>
  %ha3 = bitcast i32 %a3 to <2 x half>
  %hb0 = bitcast i32 %b0 to <2 x half>
  %hb1 = bitcast i32 %b1 to <2 x half>
  %hm = call { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.f32.f32(<2 x half> %ha0, <2 x half> %ha1, <2 x half> %ha2, <2 x half> %ha3, <2 x half> %hb0, <2 x half> %hb1, float 0.0, float 0.0, float 0.0, float 0.0)
  br label %mmadone
bfmma:
  %bm2 = call { float, float, float, float } @llvm.nvvm.mma.m16n8k16.row.col.bf16(i32 %a0, i32 %a1, i32 %a2, i32 %a3, i32 %b0, i32 %b1, float 0.0, float 0.0, float 0.0, float 0.0)
  br label %mmadone
mmadone:
  %m = phi { float, float, float, float } [ %hm, %hmma ], [ %bm2, %bfmma ]
  %d0 = extractvalue { float, float, float, float } %m, 0
  %d1 = extractvalue { float, float, float, float } %m, 1
  %d2 = extractvalue { float, float, float, float } %m, 2
  %d3 = extractvalue { float, float, float, float } %m, 3
  %doff = mul i32 %lane, 4
  %pd = getelementptr float, ptr addrspace(1) %d, i32 %doff
  %dv0 = insertelement <4 x float> undef, float %d0, i32 0
  %dv1 = insertelement <4 x float> %dv0, float %d1, i32 1
  %dv2 = insertelement <4 x float> %dv1, float %d2, i32 2
  %dv3 = insertelement <4 x float> %dv2, float %d3, i32 3
  store <4 x float> %dv3, ptr addrspace(1) %pd, align 16
  ; row maxima over the quad (lanes 4g..4g+3 hold row g and g+8)
  %mlo0 = call float @llvm.maxnum.f32(float %d0, float %d1)
  %mhi0 = call float @llvm.maxnum.f32(float %d2, float %d3)
  %slo1 = call float @llvm.nvvm.shfl.sync.bfly.f32(i32 -1, float %mlo0, i32 1, i32 31)
  %shi1 = call float @llvm.nvvm.shfl.sync.bfly.f32(i32 -1, float %mhi0, i32 1, i32 31)
  %mlo1 = call float @llvm.maxnum.f32(float %mlo0, float %slo1)
  %mhi1 = call float @llvm.maxnum.f32(float %mhi0, float %shi1)
  %slo2 = call float @llvm.nvvm.shfl.sync.bfly.f32(i32 -1, float %mlo1, i32 2, i32 31)
  %shi2 = call float @llvm.nvvm.shfl.sync.bfly.f32(i32 -1, float %mhi1, i32 2, i32 31)
  %mlo = call float @llvm.maxnum.f32(float %mlo1, float %slo2)
  %mhi = call float @llvm.maxnum.f32(float %mhi1, float %shi2)
  %x0 = fsub float %d0, %mlo
  %x1 = fsub float %d1, %mlo
  %x2 = fsub float %d2, %mhi
  %x3 = fsub float %d3, %mhi
  %e0 = call float @llvm.nvvm.ex2.approx.ftz.f(float %x0)
  %e1 = call float @llvm.nvvm.ex2.approx.ftz.f(float %x1)
  %e2 = call float @llvm.nvvm.ex2.approx.ftz.f(float %x2)
  %e3 = call float @llvm.nvvm.ex2.approx.ftz.f(float %x3)
  %v0 = insertelement <2 x float> undef, float %e0, i32 0
  %v01 = insertelement <2 x float> %v0, float %e1, i32 1
  %v2 = insertelement <2 x float> undef, float %e2, i32 0
  %v23 = insertelement <2 x float> %v2, float %e3, i32 1
  %h01 = fptrunc <2 x float> %v01 to <2 x half>
  %h23 = fptrunc <2 x float> %v23 to <2 x half>
  %i01 = bitcast <2 x half> %h01 to i32
  %i23 = bitcast <2 x half> %h23 to i32
  %poff = mul i32 %lane, 2
  %pp = getelementptr i32, ptr addrspace(1) %p, i32 %poff
  %pv0 = insertelement <2 x i32> undef, i32 %i01, i32 0
  %pv1 = insertelement <2 x i32> %pv0, i32 %i23, i32 1
  store <2 x i32> %pv1, ptr addrspace(1) %pp, align 8
  ret void
}

!nvvm.annotations = !{!0}
!0 = !{ptr @mma_softmax, !"kernel", i32 1}
