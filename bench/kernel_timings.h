// Per-op CPU kernel timings on the engine's shapes (issue 14), for when end-to-end timing is not
// possible (a shared machine) or to see one change at a time: `paligemma bench --kernels` prints,
// for fp32 weights and bf16 weights (native or widened, runtime/cpu/gemm.h), on `threads` threads, best of 7 (fused and separate alternating):
//   - the ViT's GEMMs with their epilogue fused (MatMul with bias, MatMulGelu) against the same
//     GEMM followed by the separate AddRowBroadcast / GeluTanh passes (SigLIP-B/16, 8 images:
//     M = 1568 rows, fc1 [768, 3072], fc2 [3072, 768]);
//   - decode-shaped GEMMs (M = 8 rows: a batch of 8 sequences) as weight bytes streamed per
//     second, at the mid decoder's and the 3B decoder's gate|up and down shapes, with the weights
//     as the backend holds them (huge pages from 64 MiB, runtime/cpu/host_buffer.h) and on 4 KiB pages.
#pragma once

#include <string>

namespace pg {

std::string MeasureKernelTimings(int threads);

}  // namespace pg
