// Format detection and file reading for the image decoders (jpeg_decode.cc, png_decode.cc).
#include "io/image_decode.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string>

#include "runtime/check.h"

namespace pg {
namespace {

bool StartsWith(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

// Names formats we do not decode, so the error says what the file is.
const char* OtherFormatName(const uint8_t* data, size_t size) {
  if (StartsWith(data, size, "GIF87a", 6) || StartsWith(data, size, "GIF89a", 6)) return "GIF";
  // "BM" then, at offset 14, the size of one of the DIB headers (12, 40, 52, 56, 64, 108, 124).
  if (size >= 18 && StartsWith(data, size, "BM", 2) && data[15] == 0 && data[16] == 0 && data[17] == 0) {
    const int dib = data[14];
    if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124) return "BMP";
  }
  if (size >= 12 && StartsWith(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0)
    return "WebP";
  if (StartsWith(data, size, "II*\0", 4) || StartsWith(data, size, "MM\0*", 4)) return "TIFF";
  if (size >= 12 && std::memcmp(data + 4, "ftyp", 4) == 0) {
    const std::string brand(reinterpret_cast<const char*>(data) + 8, 4);
    if (brand == "avif" || brand == "avis") return "AVIF";
    if (brand == "heic" || brand == "heix" || brand == "heim" || brand == "heis" || brand == "hevc" ||
        brand == "mif1" || brand == "msf1")
      return "HEIC";
  }
  return nullptr;
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
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kUnknown:
      break;
  }
  return OtherFormatName(data, size);
}

ImageFormat DetectImageFormat(const uint8_t* data, size_t size) {
  static const char kPngSig[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  if (StartsWith(data, size, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (StartsWith(data, size, kPngSig, 8)) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

Image DecodeImageBuffer(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts) {
  PG_CHECK(size > 0, "image '" << name << "': empty (0 bytes)");
  PG_CHECK(opts.max_pixels > 0, "image '" << name << "': max_pixels must be positive, got "
                                          << opts.max_pixels);
  switch (DetectImageFormat(data, size)) {
    case ImageFormat::kJpeg:
      return DecodeJpeg(data, size, name, opts);
    case ImageFormat::kPng:
      return DecodePng(data, size, name, opts);
    case ImageFormat::kUnknown:
      break;
  }
  if (const char* other = OtherFormatName(data, size)) {
    PG_THROW("image '" << name << "': unsupported image format " << other
                       << " (only JPEG and PNG are decoded)");
  }
  PG_THROW("image '" << name << "': not a JPEG or PNG file (first bytes: "
                     << HexPrefix(data, size) << ", " << size << " bytes)");
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
