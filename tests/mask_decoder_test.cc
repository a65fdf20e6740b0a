// The VQ-VAE mask decoder (models/mask_decoder.h) against the float64 NumPy reference of
// tests/golden/make_mask_fixtures.py, written from big_vision's decoder, on random weights in
// vae-oid.npz's exact names and shapes (tests/fixtures/masks/); and the loader's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/npz_reader.h"
#include "models/mask_decoder.h"
#include "runtime/backend.h"
#include "tests/checkpoint_test_util.h"
#include "tests/error_matchers.h"
#include "tests/source_writers_test_util.h"

namespace pg {
namespace {

const std::string kDir = std::string(PG_SOURCE_DIR) + "/tests/fixtures/masks/";

std::vector<float> ReadMember(const NpzReader& npz, const std::string& name, std::vector<int64_t>* shape) {
  const NpzMember* m = npz.Find(name);
  EXPECT_NE(m, nullptr) << name;
  if (m == nullptr) return {};
  if (shape) *shape = m->shape;
  return npz.ReadAsF32(*m);
}

TEST(MaskDecoder, MatchesNumpyReferenceOnRandomVaeOidLayout) {
  auto be = MakeBackend("cpu");
  MaskDecoder dec(kDir + "vae_random.npz", *be);
  EXPECT_EQ(dec.codebook_size(), 128);
  EXPECT_EQ(dec.embedding_dim(), 512);
  NpzReader ref(kDir + "reference.npz");
  std::vector<int64_t> cshape, mshape;
  const std::vector<float> codes_f = ReadMember(ref, "codes", &cshape);
  const std::vector<float> expected = ReadMember(ref, "masks64", &mshape);
  ASSERT_EQ(cshape.size(), 2u);
  ASSERT_EQ(cshape[1], 16);
  const int64_t B = cshape[0];
  ASSERT_EQ(mshape, (std::vector<int64_t>{B, 64, 64}));
  std::vector<int> codes(codes_f.begin(), codes_f.end());
  const std::vector<float> got = dec.Decode(codes);
  ASSERT_EQ(got.size(), expected.size());
  for (int64_t b = 0; b < B; ++b) {
    double max_ref = 0, max_err = 0;
    int64_t worst = 0;
    int positive = 0;
    for (int64_t i = b * 4096; i < (b + 1) * 4096; ++i) {
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(expected[i])));
      const double e = std::fabs(static_cast<double>(got[i]) - expected[i]);
      if (e > max_err) max_err = e, worst = i;
      positive += expected[i] > 0;
    }
    ASSERT_GT(max_ref, 0.0);
    EXPECT_GT(positive, 400) << "mask " << b << " is (almost) all background: a weak fixture";
    EXPECT_LE(max_err / max_ref, 1e-5) << "mask " << b << ": worst pixel " << (worst % 4096) / 64 << ","
                                       << worst % 64 << " got " << got[worst] << " expected " << expected[worst];
  }
  // One mask alone decodes like the same mask inside the batch.
  const std::vector<int> one(codes.begin() + 16, codes.begin() + 32);
  const std::vector<float> single = dec.Decode(one);
  for (int i = 0; i < 4096; ++i) ASSERT_NEAR(single[i], got[4096 + i], 1e-5 * std::fabs(got[4096 + i]) + 1e-6);
}

TEST(MaskDecoder, RejectsBadCodes) {
  auto be = MakeBackend("cpu");
  MaskDecoder dec(kDir + "vae_random.npz", *be);
  EXPECT_ERROR_HAS(dec.Decode(std::vector<int>(15, 0)), "15 codes; expected 16 per mask");
  std::vector<int> codes(32, 3);
  codes[20] = 128;
  EXPECT_ERROR_HAS(dec.Decode(codes), "code 128 (mask 1, position 4) is outside the codebook [0, 128)");
  codes[20] = -1;
  EXPECT_ERROR_HAS(dec.Decode(codes), "code -1");
}

std::string F32Npy(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const std::vector<float> v(static_cast<size_t>(n), 0.5f);
  return testing::NpyBytes("<f4", shape, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
}

TEST(MaskDecoder, LoaderNamesTheFileAndTensor) {
  testing::TempDir dir;
  auto be = MakeBackend("cpu");
  const std::string p = dir.File("vae.npz");
  auto write = [&](const std::vector<testing::ZipMember>& m) { testing::WriteFileBytes(p, testing::ZipBytes(m, false)); };

  write({{"decoder.0.weight.npy", F32Npy({128, 8, 1, 1})}});
  EXPECT_ERROR_HAS(MaskDecoder(p, *be), "vae npz '" + p + "': missing tensor '_vq_vae._embedding'");
  write({{"_vq_vae._embedding.npy", F32Npy({100, 8})}});
  EXPECT_ERROR_HAS(MaskDecoder(p, *be), "tensor '_vq_vae._embedding' in vae npz '" + p + "' has shape [100, 8]");
  write({{"_vq_vae._embedding.npy", F32Npy({128, 8})}});
  EXPECT_ERROR_HAS(MaskDecoder(p, *be), "missing tensor 'decoder.0.weight'");
  write({{"_vq_vae._embedding.npy", F32Npy({128, 8})}, {"decoder.0.weight.npy", F32Npy({128, 9, 1, 1})}});
  EXPECT_ERROR_HAS(MaskDecoder(p, *be),
                   "tensor 'decoder.0.weight' in vae npz '" + p + "' has shape [128, 9, 1, 1]; expected [128, 8, 1, 1]");
  EXPECT_ERROR_HAS(MaskDecoder(dir.File("absent.npz"), *be), "absent.npz");
}

}  // namespace
}  // namespace pg
