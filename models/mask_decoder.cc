#include "models/mask_decoder.h"

#include <algorithm>

#include "io/npz_reader.h"
#include "runtime/check.h"

namespace pg {
namespace {

constexpr int kGrid = 4;     // 16 codes = a 4x4 grid
constexpr int kCodes = 16;
constexpr int kWidth = 128;  // big_vision Decoder: dim = 128

// A convolution as a GEMM: w [K, N] (conv: K = kh * kw * in in (ky, kx, in) order, N = out;
// transposed conv: K = in, N = kh * kw * out in (ky, kx, out) order), bias [out].
struct Conv {
  Tensor w, b;
  int in = 0, out = 0, k = 1;
};

std::vector<float> Member(const NpzReader& npz, const std::string& name, const std::vector<int64_t>& shape,
                          const std::string& what) {
  const NpzMember* m = npz.Find(name);
  PG_CHECK(m != nullptr, "vae npz '" << npz.path() << "': missing tensor '" << name << "' (" << what
                                     << "; the layout of big_vision's vae-oid.npz)");
  PG_CHECK(m->shape == shape, "tensor '" << name << "' in vae npz '" << npz.path() << "' has shape "
                                         << ShapeStr(m->shape) << "; expected " << ShapeStr(shape));
  return npz.ReadAsF32(*m);
}

// torch Conv2d weight [out, in, k, k] -> GEMM weight [(ky, kx, in), out].
Conv LoadConv(Backend& be, const NpzReader& npz, const std::string& name, int in, int out, int k) {
  const std::vector<float> w = Member(npz, name + ".weight", {out, in, k, k}, "Conv2d weight [out, in, kh, kw]");
  const std::vector<float> b = Member(npz, name + ".bias", {out}, "Conv2d bias");
  std::vector<float> g(static_cast<size_t>(k) * k * in * out);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx)
          g[(static_cast<size_t>(ky * k + kx) * in + i) * out + o] = w[((static_cast<size_t>(o) * in + i) * k + ky) * k + kx];
  Conv c;
  c.in = in, c.out = out, c.k = k;
  c.w = be.Upload(name + ".weight", {int64_t{k} * k * in, out}, g.data());
  c.b = be.Upload(name + ".bias", {out}, b.data());
  return c;
}

// torch ConvTranspose2d weight [in, out, k, k] -> GEMM weight [in, (ky, kx, out)].
Conv LoadConvTranspose(Backend& be, const NpzReader& npz, const std::string& name, int in, int out, int k) {
  const std::vector<float> w =
      Member(npz, name + ".weight", {in, out, k, k}, "ConvTranspose2d weight [in, out, kh, kw]");
  const std::vector<float> b = Member(npz, name + ".bias", {out}, "ConvTranspose2d bias");
  std::vector<float> g(w.size());
  for (int i = 0; i < in; ++i)
    for (int o = 0; o < out; ++o)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx)
          g[static_cast<size_t>(i) * k * k * out + static_cast<size_t>(ky * k + kx) * out + o] =
              w[((static_cast<size_t>(i) * out + o) * k + ky) * k + kx];
  Conv c;
  c.in = in, c.out = out, c.k = k;
  c.w = be.Upload(name + ".weight", {in, int64_t{k} * k * out}, g.data());
  c.b = be.Upload(name + ".bias", {out}, b.data());
  return c;
}

void Relu(std::vector<float>& x) {
  for (float& v : x) v = std::max(v, 0.f);
}

// x: [B, H, W, C] -> cols [B * H * W, (ky, kx, C)] for a k x k convolution with padding k / 2.
std::vector<float> Im2Col(const std::vector<float>& x, int B, int H, int W, int C, int k) {
  const int pad = k / 2;
  std::vector<float> cols(static_cast<size_t>(B) * H * W * k * k * C, 0.f);
  float* dst = cols.data();
  for (int b = 0; b < B; ++b)
    for (int y = 0; y < H; ++y)
      for (int x0 = 0; x0 < W; ++x0)
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx, dst += C) {
            const int sy = y + ky - pad, sx = x0 + kx - pad;
            if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
            std::copy_n(&x[((static_cast<size_t>(b) * H + sy) * W + sx) * C], C, dst);
          }
  return cols;
}

}  // namespace

struct MaskDecoder::Weights {
  Tensor codebook;  // [codes, E]
  Conv in_proj;     // decoder.0
  Conv res[2][3];   // decoder.{2,3}.net.{0,2,4}
  Conv up[4];       // decoder.{4,6,8,10}
  Conv out_proj;    // decoder.12
};

MaskDecoder::MaskDecoder(const std::string& npz_path, Backend& backend) : be_(backend), w_(std::make_unique<Weights>()) {
  NpzReader npz(npz_path);
  const NpzMember* cb = npz.Find("_vq_vae._embedding");
  PG_CHECK(cb != nullptr, "vae npz '" << npz_path << "': missing tensor '_vq_vae._embedding' (the codebook "
                                         "[128, E]; the layout of big_vision's vae-oid.npz)");
  PG_CHECK(cb->shape.size() == 2 && cb->shape[0] == 128 && cb->shape[1] > 0,
           "tensor '_vq_vae._embedding' in vae npz '" << npz_path << "' has shape " << ShapeStr(cb->shape)
                                                      << "; expected [128, E] (one row per <seg> token)");
  const int E = static_cast<int>(cb->shape[1]);
  const std::vector<float> table = npz.ReadAsF32(*cb);
  w_->codebook = be_.Upload("_vq_vae._embedding", cb->shape, table.data());
  w_->in_proj = LoadConv(be_, npz, "decoder.0", E, kWidth, 1);
  for (int r = 0; r < 2; ++r) {
    const std::string base = "decoder." + std::to_string(2 + r) + ".net.";
    w_->res[r][0] = LoadConv(be_, npz, base + "0", kWidth, kWidth, 3);
    w_->res[r][1] = LoadConv(be_, npz, base + "2", kWidth, kWidth, 3);
    w_->res[r][2] = LoadConv(be_, npz, base + "4", kWidth, kWidth, 1);
  }
  const int widths[5] = {128, 128, 64, 32, 16};
  for (int u = 0; u < 4; ++u)
    w_->up[u] = LoadConvTranspose(be_, npz, "decoder." + std::to_string(4 + 2 * u), widths[u], widths[u + 1], 4);
  w_->out_proj = LoadConv(be_, npz, "decoder.12", 16, 1, 1);
}

MaskDecoder::~MaskDecoder() = default;

int MaskDecoder::codebook_size() const { return static_cast<int>(w_->codebook.dim(0)); }
int MaskDecoder::embedding_dim() const { return static_cast<int>(w_->codebook.dim(1)); }

namespace {

// host x [M, K] @ w [K, N] (+ bias[N]) on the backend -> host [M, N].
std::vector<float> Gemm(Backend& be, const std::vector<float>& x, const Tensor& w, const Tensor* bias) {
  const int64_t K = w.dim(0), N = w.dim(1), M = static_cast<int64_t>(x.size()) / K;
  Tensor xt = be.Upload("mask_decoder.x", {M, K}, x.data());
  Tensor y = be.Alloc("mask_decoder.y", {M, N});
  be.MatMul(xt, w, bias, y);
  std::vector<float> out(static_cast<size_t>(M * N));
  be.Download(y, out.data());
  return out;
}

// k x k convolution, stride 1, padding k / 2: x [B, H, W, in] -> [B, H, W, out].
std::vector<float> RunConv(Backend& be, const Conv& c, const std::vector<float>& x, int B, int H, int W) {
  if (c.k == 1) return Gemm(be, x, c.w, &c.b);
  return Gemm(be, Im2Col(x, B, H, W, c.in, c.k), c.w, &c.b);
}

// Transposed convolution k 4, stride 2, padding 1: x [B, H, W, in] -> [B, 2H, 2W, out];
// out[b, 2 iy - 1 + ky, 2 ix - 1 + kx, o] += x[b, iy, ix, :] . w[:, o, ky, kx], then + bias.
std::vector<float> RunConvTranspose(Backend& be, const Conv& c, const std::vector<float>& x, int B, int H, int W) {
  const std::vector<float> cols = Gemm(be, x, c.w, nullptr);  // [B * H * W, (ky, kx, out)]
  const int OH = 2 * H, OW = 2 * W, k = c.k, C = c.out;
  std::vector<float> bias(C);
  be.Download(c.b, bias.data());
  std::vector<float> out(static_cast<size_t>(B) * OH * OW * C, 0.f);
  for (int b = 0; b < B; ++b)
    for (int iy = 0; iy < H; ++iy)
      for (int ix = 0; ix < W; ++ix) {
        const float* src = &cols[((static_cast<size_t>(b) * H + iy) * W + ix) * k * k * C];
        for (int ky = 0; ky < k; ++ky) {
          const int oy = 2 * iy - 1 + ky;
          if (oy < 0 || oy >= OH) continue;
          for (int kx = 0; kx < k; ++kx) {
            const int ox = 2 * ix - 1 + kx;
            if (ox < 0 || ox >= OW) continue;
            float* dst = &out[((static_cast<size_t>(b) * OH + oy) * OW + ox) * C];
            const float* s = src + static_cast<size_t>(ky * k + kx) * C;
            for (int o = 0; o < C; ++o) dst[o] += s[o];
          }
        }
      }
  for (size_t i = 0; i < out.size(); ++i) out[i] += bias[i % C];
  return out;
}

}  // namespace

std::vector<float> MaskDecoder::Decode(const std::vector<int>& codes) const {
  PG_CHECK(!codes.empty() && codes.size() % kCodes == 0,
           "MaskDecoder: " << codes.size() << " codes; expected 16 per mask");
  for (size_t i = 0; i < codes.size(); ++i)
    PG_CHECK(codes[i] >= 0 && codes[i] < codebook_size(),
             "MaskDecoder: code " << codes[i] << " (mask " << i / kCodes << ", position " << i % kCodes
                                  << ") is outside the codebook [0, " << codebook_size() << ")");
  const int B = static_cast<int>(codes.size() / kCodes);
  const int E = embedding_dim();
  // x: [B, 4, 4, E] (the codebook rows, grid row-major) -> [B, 4, 4, 128]
  Tensor emb = be_.Alloc("mask_decoder.codes", {int64_t{B} * kCodes, E});
  be_.Embed(w_->codebook, codes, 0, 1.f, emb);
  Tensor h0 = be_.Alloc("mask_decoder.in_proj", {int64_t{B} * kCodes, kWidth});
  be_.MatMul(emb, w_->in_proj.w, &w_->in_proj.b, h0);
  std::vector<float> x(static_cast<size_t>(h0.numel()));
  be_.Download(h0, x.data());
  Relu(x);
  int H = kGrid, W = kGrid;
  for (const auto& block : w_->res) {  // x + conv1x1(relu(conv3x3(relu(conv3x3(x)))))
    std::vector<float> t = RunConv(be_, block[0], x, B, H, W);
    Relu(t);
    t = RunConv(be_, block[1], t, B, H, W);
    Relu(t);
    t = RunConv(be_, block[2], t, B, H, W);
    for (size_t i = 0; i < x.size(); ++i) x[i] += t[i];
  }
  for (const Conv& up : w_->up) {  // [B, H, W, in] -> relu -> [B, 2H, 2W, out]
    x = RunConvTranspose(be_, up, x, B, H, W);
    Relu(x);
    H *= 2, W *= 2;
  }
  return RunConv(be_, w_->out_proj, x, B, H, W);  // [B, 64, 64, 1]
}

}  // namespace pg
