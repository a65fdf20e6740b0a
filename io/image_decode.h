// Image decoding to 8-bit RGB with the same pixels as PIL's `Image.open(path).convert("RGB")`:
// JPEG (libjpeg-turbo), PNG (libpng), WebP (libwebp), GIF first frame (giflib), BMP (our own
// bounds-checked reader, io/bmp_decode.cc), TIFF first page (libtiff), HEIC / AVIF (libheif;
// PIL needs the pillow-heif plugin for HEIC). One file per format: io/<format>_decode.cc.
//   - grey is replicated to R=G=B; alpha (and palette tRNS) is dropped, or composited onto
//     white with DecodeOptions::alpha_onto_white (HF mode);
//   - palette PNGs are looked up; 1/2/4-bit grey is scaled (x255, x85, x17) as PIL unpacks it;
//   - 16-bit PNG: RGB/RGBA/grey+alpha keep the high byte, 16-bit grey (PIL mode "I;16") is
//     clipped to 255, exactly as PIL converts "I;16" to RGB;
//   - JPEG uses libjpeg's defaults as PIL does (ISLOW IDCT, fancy upsampling); CMYK/YCCK JPEGs
//     are read with PIL's Adobe convention (inverted) and converted with PIL's cmyk2rgb;
//   - EXIF orientation is applied only with DecodeOptions::exif_transpose, after decoding, as
//     PIL's ImageOps.exif_transpose (io/exif_orientation.h); HEIC/AVIF come out of libheif
//     already turned by their irot/imir boxes (libheif's default), their EXIF tag is ignored;
//     TIFF is always turned by its orientation tag, because PIL's TIFF plugin does so on load.
// The format comes from the magic bytes, never the file extension. The pixel count is checked
// against DecodeOptions::max_pixels from the header, before any pixel buffer is allocated.
// Every failure throws pg::Error naming the input: "image 'x.jpg': truncated JPEG data ...".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pg {

// A decoded image. rgb: [height, width, 3], row-major, 8 bits per channel.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp, kTiff, kHeif };

struct DecodeOptions {
  // Largest width * height accepted (default 64 Mi pixels). Checked from the header.
  int64_t max_pixels = int64_t{64} << 20;
  // PNG alpha (RGBA, grey+alpha, palette tRNS): false drops it (PIL convert("RGB"), the
  // big_vision pipeline); true composites onto opaque white, bit-exact with HF's
  // convert_to_rgb (Image.alpha_composite onto white, then RGB). JPEG has no alpha.
  bool alpha_onto_white = false;
  // Largest file read into memory by DecodeImageFile (default 256 MiB).
  int64_t max_file_bytes = int64_t{256} << 20;
  // Turn the image upright by its EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF, TIFF tag
  // 274), as PIL's ImageOps.exif_transpose, which HF's load_image applies. Off here (PIL's
  // Image.open does not apply it; except TIFF, see above); `caption` and `generate` turn it on.
  bool exif_transpose = false;
};

// Format from the first bytes: JPEG starts FF D8 FF, PNG with the 8-byte PNG signature,
// WebP "RIFF....WEBP", GIF "GIF87a"/"GIF89a", BMP "BM" + a known DIB header size, TIFF
// "II*\0"/"MM\0*", HEIC/AVIF an ISO-BMFF "ftyp" box with a HEIF brand (kHeif).
ImageFormat DetectImageFormat(const uint8_t* data, size_t size);

// The format's name from the first bytes ("JPEG", "PNG", "WebP", "GIF", "BMP", "TIFF", "HEIC",
// "AVIF"); nullptr when not an image we know. 16 bytes are enough.
const char* ImageFormatName(const uint8_t* data, size_t size);

// Reads and decodes an image file of any format above. Errors name `path`.
Image DecodeImageFile(const std::string& path, const DecodeOptions& opts = {});

// Decodes an in-memory image. `name` (a path, a URL, "<stdin>") is used in errors.
Image DecodeImageBuffer(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts = {});

// Format-specific decoders (the buffer must hold that format). Errors name `name`.
Image DecodeJpeg(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opts);
Image DecodePng(const uint8_t* data, size_t size, const std::string& name,
                const DecodeOptions& opts);
Image DecodeWebp(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opts);
Image DecodeGif(const uint8_t* data, size_t size, const std::string& name,
                const DecodeOptions& opts);
Image DecodeBmp(const uint8_t* data, size_t size, const std::string& name,
                const DecodeOptions& opts);
Image DecodeTiff(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opts);
Image DecodeHeif(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opts);

}  // namespace pg
