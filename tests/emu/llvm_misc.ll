; Scalar code as LLVM emits it: a loop with phis, a divergent branch, a
; shared-memory tree reduction with barriers inside a loop, atomics, a
; warp vote, integer intrinsics, conversions (including bf16), division and
; square root. Compiled with llc-19 (and llc-22) by tests/test_emu_llvm.c.
target datalayout = "e-i64:64-i128:128-v16:16-v32:32-n16:32:64"
target triple = "nvptx64-nvidia-cuda"

@red = internal addrspace(3) global [128 x float] undef, align 4

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()
declare i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
declare void @llvm.nvvm.barrier0()
declare i32 @llvm.nvvm.vote.ballot.sync(i32, i1)
declare i32 @llvm.umin.i32(i32, i32)
declare i32 @llvm.smax.i32(i32, i32)
declare i32 @llvm.ctpop.i32(i32)
declare i32 @llvm.ctlz.i32(i32, i1)
declare i32 @llvm.bitreverse.i32(i32)
declare i32 @llvm.fshl.i32(i32, i32, i32)
declare float @llvm.sqrt.f32(float)

; in: n floats; ints: n i32; out: 8 i32 per thread; sums: one float per block;
; counter: one i32
define void @misc(ptr addrspace(1) noalias readonly %in, ptr addrspace(1) noalias readonly %ints, i32 %n, ptr addrspace(1) noalias %out, ptr addrspace(1) noalias %sums, ptr addrspace(1) %counter) {
entry:
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %cta = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()
  %ntid = call i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
  %base = mul i32 %cta, %ntid
  %i = add i32 %base, %tid
  %inb = icmp slt i32 %i, %n
  br i1 %inb, label %load, label %merge
load:
  %pin = getelementptr float, ptr addrspace(1) %in, i32 %i
  %x = load float, ptr addrspace(1) %pin, align 4
  %pint = getelementptr i32, ptr addrspace(1) %ints, i32 %i
  %xi = load i32, ptr addrspace(1) %pint, align 4
  br label %merge
merge:
  %v = phi float [ %x, %load ], [ 0.0, %entry ]
  %vi = phi i32 [ %xi, %load ], [ 0, %entry ]
  ; s = sum over k < i % 5 of v * k
  %trip = urem i32 %i, 5
  br label %loop
loop:
  %k = phi i32 [ 0, %merge ], [ %k1, %body ]
  %s = phi float [ 0.0, %merge ], [ %s1, %body ]
  %done = icmp uge i32 %k, %trip
  br i1 %done, label %after, label %body
body:
  %kf = sitofp i32 %k to float
  %t = fmul float %v, %kf
  %s1 = fadd float %s, %t
  %k1 = add i32 %k, 1
  br label %loop
after:
  ; tree reduction of v over the block (blockDim.x == 128)
  %pr = getelementptr float, ptr addrspace(3) @red, i32 %tid
  store float %v, ptr addrspace(3) %pr, align 4
  call void @llvm.nvvm.barrier0()
  br label %rloop
rloop:
  %st = phi i32 [ 64, %after ], [ %st1, %rnext ]
  %active = icmp ult i32 %tid, %st
  br i1 %active, label %radd, label %rnext
radd:
  %j = add i32 %tid, %st
  %pj = getelementptr float, ptr addrspace(3) @red, i32 %j
  %a = load float, ptr addrspace(3) %pr, align 4
  %b = load float, ptr addrspace(3) %pj, align 4
  %c = fadd float %a, %b
  store float %c, ptr addrspace(3) %pr, align 4
  br label %rnext
rnext:
  call void @llvm.nvvm.barrier0()
  %st1 = lshr i32 %st, 1
  %more = icmp ne i32 %st1, 0
  br i1 %more, label %rloop, label %rdone
rdone:
  %is0 = icmp eq i32 %tid, 0
  br i1 %is0, label %first, label %rest
first:
  %r0 = load float, ptr addrspace(3) @red, align 4
  %ps = getelementptr float, ptr addrspace(1) %sums, i32 %cta
  store float %r0, ptr addrspace(1) %ps, align 4
  br label %rest
rest:
  %old = atomicrmw add ptr addrspace(1) %counter, i32 1 monotonic
  %pos = fcmp ogt float %v, 0.0
  %ballot = call i32 @llvm.nvvm.vote.ballot.sync(i32 -1, i1 %pos)
  %mn = call i32 @llvm.umin.i32(i32 %vi, i32 1000)
  %mx = call i32 @llvm.smax.i32(i32 %vi, i32 -7)
  %pc = call i32 @llvm.ctpop.i32(i32 %vi)
  %lz = call i32 @llvm.ctlz.i32(i32 %vi, i1 false)
  %rv = call i32 @llvm.bitreverse.i32(i32 %vi)
  %fs = call i32 @llvm.fshl.i32(i32 %vi, i32 %mn, i32 %trip)
  %mix1 = add i32 %mn, %mx
  %mix2 = xor i32 %pc, %lz
  %mix3 = mul i32 %mix2, 1000003
  %mix = add i32 %mix1, %mix3
  %q = fdiv float %v, 3.0
  %sq = call float @llvm.sqrt.f32(float %q)
  %fi = fptosi float %s to i32
  %bf = fptrunc float %q to bfloat
  %bfi = bitcast bfloat %bf to i16
  %bfw = zext i16 %bfi to i32
  %qb = bitcast float %sq to i32
  %sb = bitcast float %s to i32
  %po = mul i32 %i, 8
  %o = getelementptr i32, ptr addrspace(1) %out, i32 %po
  store i32 %sb, ptr addrspace(1) %o, align 4
  %o1 = getelementptr i32, ptr addrspace(1) %o, i32 1
  store i32 %ballot, ptr addrspace(1) %o1, align 4
  %o2 = getelementptr i32, ptr addrspace(1) %o, i32 2
  store i32 %mix, ptr addrspace(1) %o2, align 4
  %o3 = getelementptr i32, ptr addrspace(1) %o, i32 3
  store i32 %rv, ptr addrspace(1) %o3, align 4
  %o4 = getelementptr i32, ptr addrspace(1) %o, i32 4
  store i32 %fs, ptr addrspace(1) %o4, align 4
  %o5 = getelementptr i32, ptr addrspace(1) %o, i32 5
  store i32 %qb, ptr addrspace(1) %o5, align 4
  %o6 = getelementptr i32, ptr addrspace(1) %o, i32 6
  store i32 %bfw, ptr addrspace(1) %o6, align 4
  %o7 = getelementptr i32, ptr addrspace(1) %o, i32 7
  store i32 %fi, ptr addrspace(1) %o7, align 4
  ret void
}

!nvvm.annotations = !{!0}
!0 = !{ptr @misc, !"kernel", i32 1}
