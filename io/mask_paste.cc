#include "io/mask_paste.h"

#include <algorithm>
#include <cmath>

#include "runtime/check.h"

namespace pg {
namespace {

double Triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs for the bilinear filter (support 1): for each output index, the
// first input index and the normalised weights of the inputs it reads.
struct Coeffs {
  std::vector<int> first, count;
  std::vector<double> w;  // [out, ksize]
  int ksize = 0;
};

Coeffs Precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.w.assign(static_cast<size_t>(out_size) * c.ksize, 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // C truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &c.w[static_cast<size_t>(xx) * c.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = Triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

}  // namespace

std::vector<float> ResizeBilinearPil(const std::vector<float>& in, int in_h, int in_w, int out_h, int out_w) {
  PG_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0,
           "ResizeBilinearPil: sizes must be positive; got " << in_h << "x" << in_w << " -> " << out_h << "x" << out_w);
  PG_CHECK(in.size() == static_cast<size_t>(in_h) * in_w,
           "ResizeBilinearPil: " << in.size() << " values for a " << in_h << "x" << in_w << " image");
  std::vector<float> cur = in;
  int w = in_w;
  if (out_w != in_w) {  // horizontal pass: [in_h, in_w] -> [in_h, out_w]
    const Coeffs c = Precompute(in_w, out_w);
    std::vector<float> next(static_cast<size_t>(in_h) * out_w);
    for (int y = 0; y < in_h; ++y) {
      const float* row = &cur[static_cast<size_t>(y) * w];
      for (int xx = 0; xx < out_w; ++xx) {
        const double* k = &c.w[static_cast<size_t>(xx) * c.ksize];
        double ss = 0.0;
        for (int x = 0; x < c.count[xx]; ++x) ss += row[c.first[xx] + x] * k[x];
        next[static_cast<size_t>(y) * out_w + xx] = static_cast<float>(ss);
      }
    }
    cur.swap(next);
    w = out_w;
  }
  if (out_h != in_h) {  // vertical pass: [in_h, w] -> [out_h, w]
    const Coeffs c = Precompute(in_h, out_h);
    std::vector<float> next(static_cast<size_t>(out_h) * w);
    for (int yy = 0; yy < out_h; ++yy) {
      const double* k = &c.w[static_cast<size_t>(yy) * c.ksize];
      for (int x = 0; x < w; ++x) {
        double ss = 0.0;
        for (int y = 0; y < c.count[yy]; ++y) ss += cur[static_cast<size_t>(c.first[yy] + y) * w + x] * k[y];
        next[static_cast<size_t>(yy) * w + x] = static_cast<float>(ss);
      }
    }
    cur.swap(next);
  }
  return cur;
}

std::array<int, 4> MaskBoxPixels(const std::array<int, 4>& loc, int image_w, int image_h) {
  auto px = [](int v, int size) { return static_cast<int>(static_cast<double>(v) / 1023.0 * size); };
  return {px(loc[0], image_h), px(loc[1], image_w), px(loc[2], image_h), px(loc[3], image_w)};
}

std::vector<uint8_t> PasteMask(const std::vector<float>& mask, int mask_h, int mask_w, const std::array<int, 4>& loc,
                               int image_w, int image_h) {
  PG_CHECK(image_w > 0 && image_h > 0, "PasteMask: image size must be positive; got " << image_w << "x" << image_h);
  std::vector<uint8_t> full(static_cast<size_t>(image_w) * image_h, 0);
  const std::array<int, 4> b = MaskBoxPixels(loc, image_w, image_h);
  const int y0 = b[0], x0 = b[1], y1 = b[2], x1 = b[3];
  if (x1 <= x0 || y1 <= y0) return full;  // big_vision: an empty box has an empty mask
  PG_CHECK(y0 >= 0 && x0 >= 0 && y1 <= image_h && x1 <= image_w,
           "PasteMask: box [" << y0 << ", " << x0 << ", " << y1 << ", " << x1 << "] outside the " << image_w << "x"
                              << image_h << " image");
  const std::vector<float> box = ResizeBilinearPil(mask, mask_h, mask_w, y1 - y0, x1 - x0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      full[static_cast<size_t>(y) * image_w + x] = box[static_cast<size_t>(y - y0) * (x1 - x0) + (x - x0)] > 0.f;
  return full;
}

}  // namespace pg
