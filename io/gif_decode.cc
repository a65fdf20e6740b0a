// GIF decoding with giflib: the first frame, matching PIL's GifImagePlugin + convert("RGB").
//
// PIL's first frame: a canvas of the logical screen size (grown to hold the frame if its
// rectangle reaches past it), filled with the frame's transparent index when it has one, else
// index 0; the frame's pixels (de-interlaced) are drawn into its rectangle; indices are looked
// up in the frame's local colour table, else the global one; an index past the table's end
// gets PIL's default palette entry (i, i, i). convert("RGB") ignores transparency (the
// transparent index shows its palette colour); with DecodeOptions::alpha_onto_white the
// transparent index becomes white, as HF's convert_to_rgb makes it.
// Only the records up to the first image are read: the rest of an animation is never decoded.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct GifSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
};

int ReadGif(GifFileType* gif, GifByteType* dst, int n) {
  auto* src = static_cast<GifSource*>(gif->UserData);
  const size_t take = std::min(size_t(n < 0 ? 0 : n), src->size - src->pos);
  std::memcpy(dst, src->data + src->pos, take);
  src->pos += take;
  return static_cast<int>(take);
}

struct GifCloser {
  GifFileType* gif = nullptr;
  ~GifCloser() {
    int err = 0;
    if (gif != nullptr) DGifCloseFile(gif, &err);
  }
};

const char* GifError(int code) {
  const char* s = GifErrorString(code);
  return s != nullptr ? s : "unknown giflib error";
}

// The transparent index of a Graphic Control Extension block, or -1.
int TransparentIndex(const GifByteType* ext) {
  GraphicsControlBlock gcb;
  if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) != GIF_OK) return -1;
  return gcb.TransparentColor;  // NO_TRANSPARENT_COLOR is -1
}

}  // namespace

Image DecodeGif(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opts) {
  GifSource src{data, size, 0};
  int err = 0;
  GifCloser closer;
  closer.gif = DGifOpen(&src, ReadGif, &err);
  PG_CHECK(closer.gif != nullptr, "image '" << name << "': GIF header: " << GifError(err));
  GifFileType* gif = closer.gif;
  int transparent = -1;
  for (;;) {
    GifRecordType type;
    PG_CHECK(DGifGetRecordType(gif, &type) == GIF_OK,
             "image '" << name << "': GIF data: " << GifError(gif->Error));
    PG_CHECK(type != TERMINATE_RECORD_TYPE, "image '" << name << "': GIF file has no image");
    if (type == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* ext = nullptr;
      PG_CHECK(DGifGetExtension(gif, &code, &ext) == GIF_OK,
               "image '" << name << "': GIF extension: " << GifError(gif->Error));
      if (code == GRAPHICS_EXT_FUNC_CODE && ext != nullptr && ext[0] >= 4) transparent = TransparentIndex(ext);
      while (ext != nullptr)
        PG_CHECK(DGifGetExtensionNext(gif, &ext) == GIF_OK,
                 "image '" << name << "': GIF extension: " << GifError(gif->Error));
      continue;
    }
    if (type != IMAGE_DESC_RECORD_TYPE) continue;
    PG_CHECK(DGifGetImageDesc(gif) == GIF_OK, "image '" << name << "': GIF image descriptor: " << GifError(gif->Error));
    break;
  }
  const GifImageDesc& desc = gif->Image;
  // The canvas: the logical screen, grown to hold the frame (PIL does the same).
  const int64_t x1 = int64_t{desc.Left} + desc.Width, y1 = int64_t{desc.Top} + desc.Height;
  const int64_t width = std::max<int64_t>(gif->SWidth, x1), height = std::max<int64_t>(gif->SHeight, y1);
  PG_CHECK(width > 0 && height > 0 && desc.Width > 0 && desc.Height > 0,
           "image '" << name << "': GIF says " << width << "x" << height << " with a frame of " << desc.Width << "x"
                     << desc.Height);
  PG_CHECK(width * height <= opts.max_pixels, "image '" << name << "': GIF header says " << width << "x" << height
                                                       << " = " << width * height << " pixels, more than the limit of "
                                                       << opts.max_pixels << " (--max-image-pixels)");
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
  uint8_t palette[256][3];
  for (int i = 0; i < 256; ++i) palette[i][0] = palette[i][1] = palette[i][2] = uint8_t(i);  // PIL's default
  const int colours = map != nullptr ? std::min(map->ColorCount, 256) : 0;
  for (int i = 0; i < colours; ++i) {
    palette[i][0] = map->Colors[i].Red, palette[i][1] = map->Colors[i].Green, palette[i][2] = map->Colors[i].Blue;
  }
  if (opts.alpha_onto_white && transparent >= 0 && transparent < 256)
    palette[transparent][0] = palette[transparent][1] = palette[transparent][2] = 255;
  // indices: [height, width], filled as PIL fills the first frame's canvas.
  std::vector<uint8_t> indices(size_t(width) * height, uint8_t(transparent >= 0 && transparent < 256 ? transparent : 0));
  // Rows arrive in file order; interlaced frames come in 4 passes (start, step).
  static const int kPasses[4][2] = {{0, 8}, {4, 8}, {2, 4}, {1, 2}};
  std::vector<int> order;
  order.reserve(desc.Height);
  if (desc.Interlace) {
    for (const auto& p : kPasses)
      for (int y = p[0]; y < desc.Height; y += p[1]) order.push_back(y);
  } else {
    for (int y = 0; y < desc.Height; ++y) order.push_back(y);
  }
  for (int y : order) {
    uint8_t* row = indices.data() + (size_t(desc.Top) + y) * width + desc.Left;
    PG_CHECK(DGifGetLine(gif, row, desc.Width) == GIF_OK,
             "image '" << name << "': truncated or corrupt GIF data (" << GifError(gif->Error) << ")");
  }
  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.rgb.resize(indices.size() * 3);
  for (size_t i = 0; i < indices.size(); ++i) std::memcpy(&image.rgb[i * 3], palette[indices[i]], 3);
  return image;
}

}  // namespace pg
