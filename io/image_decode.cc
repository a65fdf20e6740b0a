// Format detection, dispatch to the per-format decoders (io/<format>_decode.cc), EXIF
// orientation and file reading.
#include "io/image_decode.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string>

#include "io/exif_orientation.h"
#include "runtime/check.h"

namespace pg {
namespace {

bool StartsWith(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

bool IsBmp(const uint8_t* data, size_t size) {
  // "BM" then, at offset 14, the size of one of the DIB headers (12, 40, 52, 56, 64, 108, 124).
  if (size < 18 || !StartsWith(data, size, "BM", 2) || data[15] != 0 || data[16] != 0 || data[17] != 0) return false;
  const int dib = data[14];
  return dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124;
}

// The ISO-BMFF major brand of a HEIF file ("heic", "avif", ...), or "" when not HEIF.
std::string HeifBrand(const uint8_t* data, size_t size) {
  if (size < 12 || std::memcmp(data + 4, "ftyp", 4) != 0) return "";
  const std::string brand(reinterpret_cast<const char*>(data) + 8, 4);
  for (const char* b : {"avif", "avis", "heic", "heix", "heim", "heis", "hevc", "mif1", "msf1"})
    if (brand == b) return brand;
  return "";
}

std::string HexPrefix(const uint8_t* data, size_t size) {
  std::ostringstream os;
  for (size_t i = 0; i < size && i < 8; ++i)
    os << (i ? " " : "") << std::hex << std::setw(2) << std::setfill('0') << int(data[i]);
  return os.str();
}

}  // namespace

const char* ImageFormatName(const uint8_t* data, size_t size) {
  switch (DetectImageFormat(data, size)) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kHeif: {
      const std::string brand = HeifBrand(data, size);
      return brand == "avif" || brand == "avis" ? "AVIF" : "HEIC";
    }
    case ImageFormat::kUnknown: break;
  }
  return nullptr;
}

ImageFormat DetectImageFormat(const uint8_t* data, size_t size) {
  static const char kPngSig[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  if (StartsWith(data, size, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (StartsWith(data, size, kPngSig, 8)) return ImageFormat::kPng;
  if (size >= 12 && StartsWith(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0)
    return ImageFormat::kWebp;
  if (StartsWith(data, size, "GIF87a", 6) || StartsWith(data, size, "GIF89a", 6)) return ImageFormat::kGif;
  if (IsBmp(data, size)) return ImageFormat::kBmp;
  if (StartsWith(data, size, "II*\0", 4) || StartsWith(data, size, "MM\0*", 4)) return ImageFormat::kTiff;
  if (!HeifBrand(data, size).empty()) return ImageFormat::kHeif;
  return ImageFormat::kUnknown;
}

Image DecodeImageBuffer(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts) {
  PG_CHECK(size > 0, "image '" << name << "': empty (0 bytes)");
  PG_CHECK(opts.max_pixels > 0, "image '" << name << "': max_pixels must be positive, got "
                                          << opts.max_pixels);
  const ImageFormat format = DetectImageFormat(data, size);
  Image image;
  switch (format) {
    case ImageFormat::kJpeg: image = DecodeJpeg(data, size, name, opts); break;
    case ImageFormat::kPng: image = DecodePng(data, size, name, opts); break;
    case ImageFormat::kWebp: image = DecodeWebp(data, size, name, opts); break;
    case ImageFormat::kGif: image = DecodeGif(data, size, name, opts); break;
    case ImageFormat::kBmp: image = DecodeBmp(data, size, name, opts); break;
    case ImageFormat::kTiff: image = DecodeTiff(data, size, name, opts); break;
    case ImageFormat::kHeif: image = DecodeHeif(data, size, name, opts); break;
    case ImageFormat::kUnknown:
      PG_THROW("image '" << name << "': not an image we can read (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF); "
                         << "first bytes: " << HexPrefix(data, size) << ", " << size << " bytes");
  }
  // HEIF: libheif has already applied the irot/imir transformations (see image_decode.h).
  // TIFF: PIL's TIFF plugin applies the orientation tag itself when it loads the pixels
  // (TiffImageFile.load_end -> exif_transpose), so Image.open(...).convert("RGB") is upright.
  if ((opts.exif_transpose && format != ImageFormat::kHeif) || format == ImageFormat::kTiff)
    ApplyExifOrientation(ExifOrientation(data, size, format), &image);
  return image;
}

Image DecodeImageFile(const std::string& path, const DecodeOptions& opts) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  PG_CHECK(f != nullptr, "image '" << path << "': cannot open: " << std::strerror(errno));
  std::vector<uint8_t> bytes;
  std::string read_error;
  // Read in chunks: works for pipes too, and stops at max_file_bytes.
  uint8_t chunk[1 << 16];
  for (;;) {
    size_t n = std::fread(chunk, 1, sizeof(chunk), f);
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (static_cast<int64_t>(bytes.size()) > opts.max_file_bytes) {
      read_error = "file is larger than the limit of " + std::to_string(opts.max_file_bytes) +
                   " bytes";
      break;
    }
    if (n < sizeof(chunk)) {
      if (std::ferror(f)) read_error = std::string("read error: ") + std::strerror(errno);
      break;
    }
  }
  std::fclose(f);
  PG_CHECK(read_error.empty(), "image '" << path << "': " << read_error);
  return DecodeImageBuffer(bytes.data(), bytes.size(), path, opts);
}

}  // namespace pg
