; LLVM 22's Hopper intrinsics, compiled by llc-22 for sm_90a at test time
; (tests/test_emu_hopper.c): warp 0 elects a leader that initialises an
; mbarrier, prefetches the tensor map (a grid-constant parameter), expects
; the box's bytes and issues a 2d TMA load of a 16 x 16 u32 box; every thread
; waits with try_wait.parity and copies the tile to out. A wgmma.fence /
; commit_group / wait_group sequence with no wgmma between checks that the
; intrinsics' spellings decode.
target triple = "nvptx64-nvidia-cuda"

@tile = internal addrspace(3) global [256 x i32] undef, align 1024
@bar = internal addrspace(3) global i64 undef, align 8

declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier0()
declare void @llvm.nvvm.mbarrier.init.shared(ptr addrspace(3), i32)
declare void @llvm.nvvm.fence.proxy.async.shared_cta()
declare {i32, i1} @llvm.nvvm.elect.sync(i32)
declare i64 @llvm.nvvm.mbarrier.arrive.expect.tx.scope.cta.space.cta(ptr addrspace(3), i32)
declare void @llvm.nvvm.cp.async.bulk.tensor.g2s.tile.2d(ptr addrspace(7), ptr addrspace(3), ptr, i32, i32, i16, i64, i1, i1, i32)
declare i1 @llvm.nvvm.mbarrier.try.wait.parity.scope.cta.space.cta(ptr addrspace(3), i32)
declare void @llvm.nvvm.prefetch.tensormap.p0(ptr)
declare void @llvm.nvvm.wgmma.fence.sync.aligned()
declare void @llvm.nvvm.wgmma.commit_group.sync.aligned()
declare void @llvm.nvvm.wgmma.wait_group.sync.aligned(i64)

define ptx_kernel void @tma_copy(ptr byval([128 x i8]) align 64 "nvvm.grid_constant" %tmap,
                                 ptr addrspace(1) %out, i32 %c0, i32 %c1) #0 {
entry:
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %w0 = icmp ult i32 %tid, 32
  br i1 %w0, label %elect, label %sync
elect:
  %e = call {i32, i1} @llvm.nvvm.elect.sync(i32 -1)
  %leader = extractvalue {i32, i1} %e, 1
  br i1 %leader, label %init, label %sync
init:
  call void @llvm.nvvm.mbarrier.init.shared(ptr addrspace(3) @bar, i32 1)
  call void @llvm.nvvm.fence.proxy.async.shared_cta()
  br label %sync
sync:
  call void @llvm.nvvm.barrier0()
  br i1 %w0, label %elect2, label %wait
elect2:
  %e2 = call {i32, i1} @llvm.nvvm.elect.sync(i32 -1)
  %leader2 = extractvalue {i32, i1} %e2, 1
  br i1 %leader2, label %issue, label %wait
issue:
  call void @llvm.nvvm.prefetch.tensormap.p0(ptr %tmap)
  %st = call i64 @llvm.nvvm.mbarrier.arrive.expect.tx.scope.cta.space.cta(ptr addrspace(3) @bar, i32 1024)
  %dst = addrspacecast ptr addrspace(3) @tile to ptr addrspace(7)
  call void @llvm.nvvm.cp.async.bulk.tensor.g2s.tile.2d(ptr addrspace(7) %dst, ptr addrspace(3) @bar,
        ptr %tmap, i32 %c0, i32 %c1, i16 0, i64 0, i1 false, i1 false, i32 0)
  br label %wait
wait:
  %ok = call i1 @llvm.nvvm.mbarrier.try.wait.parity.scope.cta.space.cta(ptr addrspace(3) @bar, i32 0)
  br i1 %ok, label %copy, label %wait
copy:
  call void @llvm.nvvm.wgmma.fence.sync.aligned()
  call void @llvm.nvvm.wgmma.commit_group.sync.aligned()
  call void @llvm.nvvm.wgmma.wait_group.sync.aligned(i64 0)
  %p0 = getelementptr [256 x i32], ptr addrspace(3) @tile, i32 0, i32 %tid
  %v0 = load i32, ptr addrspace(3) %p0
  %o0 = getelementptr i32, ptr addrspace(1) %out, i32 %tid
  store i32 %v0, ptr addrspace(1) %o0
  %t1 = add i32 %tid, 128
  %p1 = getelementptr [256 x i32], ptr addrspace(3) @tile, i32 0, i32 %t1
  %v1 = load i32, ptr addrspace(3) %p1
  %o1 = getelementptr i32, ptr addrspace(1) %out, i32 %t1
  store i32 %v1, ptr addrspace(1) %o1
  ret void
}

attributes #0 = { "nvvm.maxntid"="128" "nvvm.minctasm"="1" }
