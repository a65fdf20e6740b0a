// TIFF decoding with libtiff: the first page, matching PIL's TiffImagePlugin + convert("RGB").
//
// libtiff decompresses the strips or tiles (any codec it was built with); the samples are then
// converted as PIL unpacks them, not with libtiff's TIFFRGBAImage (which premultiplies alpha,
// clips CMYK differently and half-applies the orientation tag):
//   grey (MinIsBlack / MinIsWhite)  1/2/4/8 bits scaled x255/x85/x17/x1 (MinIsWhite inverted);
//                                   16 bits is PIL "I;16", whose RGB conversion clips at 255;
//   RGB                             8 or 16 bits (16: the high byte), optional extra samples;
//   palette                         1/2/4/8-bit indices into the colour map (its entries / 256);
//   CMYK (Separated, 4 x 8 bits)    PIL's cmyk2rgb;
//   YCbCr                           only JPEG-compressed, which libjpeg turns into RGB (as PIL).
// An unassociated alpha sample (ExtraSamples = 2) is dropped, or composited onto white with
// DecodeOptions::alpha_onto_white; other extra samples are ignored (PIL "RGBX"). Contiguous and
// separate planes, strips and tiles are read. Float / signed samples, other photometrics and
// tiles of fewer than 8 bits per sample fail with an error naming the file.
#include <tiffio.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "io/alpha_composite.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct MemTiff {
  const uint8_t* data;
  size_t size;
  toff_t pos = 0;
  std::string error;  // libtiff's first error message
};

tsize_t MemRead(thandle_t h, tdata_t dst, tsize_t n) {
  auto* m = static_cast<MemTiff*>(h);
  const size_t take = m->pos >= m->size ? 0 : std::min<size_t>(size_t(n), m->size - m->pos);
  std::memcpy(dst, m->data + m->pos, take);
  m->pos += take;
  return tsize_t(take);
}
tsize_t MemWrite(thandle_t, tdata_t, tsize_t) { return 0; }
toff_t MemSeek(thandle_t h, toff_t off, int whence) {
  auto* m = static_cast<MemTiff*>(h);
  const toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
  m->pos = base + off;  // reads past the end return 0 bytes
  return m->pos;
}
int MemClose(thandle_t) { return 0; }
toff_t MemSize(thandle_t h) { return static_cast<MemTiff*>(h)->size; }
int MemMap(thandle_t, tdata_t*, toff_t*) { return 0; }
void MemUnmap(thandle_t, tdata_t, toff_t) {}

int OnTiffError(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* m = static_cast<MemTiff*>(user);
  if (m->error.empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    m->error = std::string(module ? module : "libtiff") + ": " + buf;
  }
  return 1;  // handled: libtiff's global handler (stderr) is not called
}
int OnTiffWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};

struct Layout {
  uint32_t width = 0, height = 0;
  uint16_t bps = 0, spp = 0, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  int colour = 0;   // colour samples: 1 grey / palette, 3 RGB, 4 CMYK
  int alpha = -1;   // sample index of an unassociated alpha, or -1
};

// Every sample of the first page, decompressed: planes x [height, rowbytes].
std::vector<uint8_t> ReadSamples(TIFF* tif, const Layout& L, size_t rowbytes, MemTiff* mem, const std::string& name) {
  const int planes = L.planar == PLANARCONFIG_SEPARATE ? L.spp : 1;
  std::vector<uint8_t> all(size_t(planes) * L.height * rowbytes);
  auto fail = [&](const char* what) {
    PG_THROW("image '" << name << "': TIFF " << what << " cannot be read"
                       << (mem->error.empty() ? std::string(" (truncated or corrupt)") : ": " + mem->error));
  };
  if (!TIFFIsTiled(tif)) {
    uint32_t rps = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    rps = std::max<uint32_t>(1, std::min(rps, L.height));
    for (int p = 0; p < planes; ++p) {
      for (uint32_t row = 0; row < L.height; row += rps) {
        const size_t want = size_t(std::min(rps, L.height - row)) * rowbytes;
        uint8_t* dst = all.data() + (size_t(p) * L.height + row) * rowbytes;
        if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, row, uint16_t(p)), dst, tmsize_t(want)) != tmsize_t(want))
          fail("strip");
      }
    }
    return all;
  }
  PG_CHECK(L.bps % 8 == 0, "image '" << name << "': unsupported TIFF: tiles of " << L.bps << "-bit samples");
  uint32_t tw = 0, th = 0;
  TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
  TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
  const size_t pixel_bytes = rowbytes / L.width, tile_row = TIFFTileRowSize64(tif);
  const tmsize_t tile_bytes = TIFFTileSize(tif);
  PG_CHECK(tw > 0 && th > 0 && tile_bytes > 0 && tile_row == size_t(tw) * pixel_bytes &&
               size_t(tile_bytes) >= size_t(th) * tile_row,
           "image '" << name << "': invalid TIFF tile size " << tw << "x" << th);
  std::vector<uint8_t> tile(static_cast<size_t>(tile_bytes));
  for (int p = 0; p < planes; ++p) {
    for (uint32_t ty = 0; ty < L.height; ty += th) {
      for (uint32_t tx = 0; tx < L.width; tx += tw) {
        if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, uint16_t(p)), tile.data(), tile_bytes) !=
            tile_bytes)
          fail("tile");
        const size_t cols = size_t(std::min(tw, L.width - tx)) * pixel_bytes;
        for (uint32_t r = 0; r < th && ty + r < L.height; ++r)
          std::memcpy(all.data() + (size_t(p) * L.height + ty + r) * rowbytes + tx * pixel_bytes,
                      tile.data() + r * tile_row, cols);
      }
    }
  }
  return all;
}

uint32_t Sample(const uint8_t* row, size_t i, int bps) {
  switch (bps) {
    case 8: return row[i];
    case 16: { uint16_t v; std::memcpy(&v, row + 2 * i, 2); return v; }  // libtiff swabs to native
    default: return (row[i * bps / 8] >> (8 - bps - (i * bps) % 8)) & ((1u << bps) - 1);
  }
}

Layout ReadLayout(TIFF* tif, const std::string& name, const DecodeOptions& opts) {
  Layout L;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &L.width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &L.height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &L.bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &L.spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &L.planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &L.format);
  PG_CHECK(TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &L.photometric), "image '" << name << "': TIFF has no Photometric tag");
  const int64_t pixels = int64_t{L.width} * L.height;
  PG_CHECK(L.width > 0 && L.height > 0, "image '" << name << "': TIFF says " << L.width << "x" << L.height);
  PG_CHECK(pixels <= opts.max_pixels, "image '" << name << "': TIFF header says " << L.width << "x" << L.height << " = "
                                                << pixels << " pixels, more than the limit of " << opts.max_pixels
                                                << " (--max-image-pixels)");
  PG_CHECK(L.format == SAMPLEFORMAT_UINT, "image '" << name << "': unsupported TIFF sample format " << L.format
                                                    << " (only unsigned integers)");
  uint16_t compression = COMPRESSION_NONE;
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (L.photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG) {
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);  // libjpeg converts, as in PIL
    L.photometric = PHOTOMETRIC_RGB;
  }
  switch (L.photometric) {
    case PHOTOMETRIC_MINISBLACK: case PHOTOMETRIC_MINISWHITE: case PHOTOMETRIC_PALETTE: L.colour = 1; break;
    case PHOTOMETRIC_RGB: L.colour = 3; break;
    case PHOTOMETRIC_SEPARATED: L.colour = 4; break;
    default: PG_THROW("image '" << name << "': unsupported TIFF photometric interpretation " << L.photometric);
  }
  const bool ok_bits = L.colour == 1 ? (L.bps == 1 || L.bps == 2 || L.bps == 4 || L.bps == 8 ||
                                        (L.bps == 16 && L.photometric == PHOTOMETRIC_MINISBLACK))
                                     : (L.bps == 8 || (L.bps == 16 && L.colour == 3));
  PG_CHECK(ok_bits && L.spp >= L.colour && L.spp <= L.colour + 2 && (L.bps >= 8 || L.spp == 1),
           "image '" << name << "': unsupported TIFF layout: photometric " << L.photometric << ", " << L.spp
                     << " samples of " << L.bps << " bits");
  uint16_t extra_count = 0;
  uint16_t* extra = nullptr;
  if (L.spp > L.colour && TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra) && extra_count > 0 &&
      extra[0] == EXTRASAMPLE_UNASSALPHA && L.colour != 4)
    L.alpha = L.colour;
  return L;
}

}  // namespace

Image DecodeTiff(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opts) {
  MemTiff mem{data, size, 0, {}};
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> topts(TIFFOpenOptionsAlloc(), TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(topts.get(), OnTiffError, &mem);
  TIFFOpenOptionsSetWarningHandlerExtR(topts.get(), OnTiffWarning, &mem);
  TIFFOpenOptionsSetMaxSingleMemAlloc(topts.get(), tmsize_t{256} << 20);
  std::unique_ptr<TIFF, TiffCloser> tif(TIFFClientOpenExt(name.c_str(), "rm", &mem, MemRead, MemWrite, MemSeek,
                                                          MemClose, MemSize, MemMap, MemUnmap, topts.get()));
  PG_CHECK(tif != nullptr, "image '" << name << "': invalid TIFF header" << (mem.error.empty() ? "" : ": ") << mem.error);
  const Layout L = ReadLayout(tif.get(), name, opts);
  const int per_plane = L.planar == PLANARCONFIG_SEPARATE ? 1 : L.spp;
  const size_t rowbytes = (size_t(L.width) * per_plane * L.bps + 7) / 8;
  PG_CHECK(size_t(TIFFScanlineSize64(tif.get())) == rowbytes,
           "image '" << name << "': TIFF row size " << TIFFScanlineSize64(tif.get()) << " bytes, expected " << rowbytes);
  const std::vector<uint8_t> samples = ReadSamples(tif.get(), L, rowbytes, &mem, name);
  uint16_t *map_r = nullptr, *map_g = nullptr, *map_b = nullptr;
  if (L.photometric == PHOTOMETRIC_PALETTE)
    PG_CHECK(TIFFGetField(tif.get(), TIFFTAG_COLORMAP, &map_r, &map_g, &map_b), "image '" << name << "': palette TIFF without a colour map");
  Image image;
  image.width = int(L.width), image.height = int(L.height);
  image.rgb.resize(size_t(L.width) * L.height * 3);
  const bool onto_white = opts.alpha_onto_white && L.alpha >= 0;
  const int scale = L.bps == 1 ? 255 : L.bps == 2 ? 85 : L.bps == 4 ? 17 : 1;
  for (uint32_t y = 0; y < L.height; ++y) {
    for (uint32_t x = 0; x < L.width; ++x) {
      // s(c): sample c of pixel (x, y), at its native bit depth.
      auto s = [&](int c) {
        if (L.planar == PLANARCONFIG_SEPARATE) return Sample(samples.data() + (size_t(c) * L.height + y) * rowbytes, x, L.bps);
        return Sample(samples.data() + size_t(y) * rowbytes, size_t(x) * L.spp + c, L.bps);
      };
      uint8_t* out = image.rgb.data() + (size_t(y) * L.width + x) * 3;
      if (L.photometric == PHOTOMETRIC_PALETTE) {
        const uint32_t i = s(0);
        out[0] = uint8_t(map_r[i] >> 8), out[1] = uint8_t(map_g[i] >> 8), out[2] = uint8_t(map_b[i] >> 8);
        continue;
      }
      uint8_t v[4] = {0, 0, 0, 0};
      for (int c = 0; c < L.colour; ++c) {
        const uint32_t raw = s(c);
        v[c] = L.bps == 16 ? uint8_t(L.colour == 1 ? std::min<uint32_t>(raw, 255) : raw >> 8) : uint8_t(raw * scale);
      }
      if (L.photometric == PHOTOMETRIC_MINISWHITE) v[0] = uint8_t(255 - v[0]);
      if (L.colour == 4) {  // PIL cmyk2rgb: r = clip(nk - muldiv255(c, nk)), nk = 255 - k
        const int nk = 255 - v[3];
        for (int c = 0; c < 3; ++c) {
          const int t = v[c] * nk + 128;
          out[c] = uint8_t(std::max(0, nk - (((t >> 8) + t) >> 8)));
        }
        continue;
      }
      for (int c = 0; c < 3; ++c) out[c] = v[L.colour == 3 ? c : 0];
      if (onto_white) {
        const uint32_t a = s(L.alpha);
        const int alpha = int(L.bps == 16 ? a >> 8 : a * scale);
        for (int c = 0; c < 3; ++c) out[c] = OntoWhite(out[c], alpha);
      }
    }
  }
  return image;
}

}  // namespace pg
