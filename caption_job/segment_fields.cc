#include "caption_job/segment_fields.h"

#include <filesystem>
#include <system_error>

#include "io/mask_paste.h"
#include "io/mask_rle.h"
#include "io/png_write.h"
#include "io/segmentation.h"
#include "runtime/check.h"

namespace pg {

bool IsSegmentOrDetectPrompt(const std::string& prompt) {
  AnswerKind kind;
  return AnswerKindOfPrompt(prompt, &kind);
}

void AddSegmentFields(const std::string& prompt, int image_w, int image_h, const SegmentOutput& out,
                      CaptionResult* r) {
  AnswerKind kind;
  if (!AnswerKindOfPrompt(prompt, &kind)) return;
  r->with_boxes = true;
  const SegmentParse p = ParseSegmentAnswer(r->text, kind);
  r->parse_error = p.error;
  for (const SegmentObject& o : p.objects) r->boxes.push_back(ObjectBox(o, image_w, image_h));
  std::vector<int> codes;  // [objects with codes, 16]
  for (const SegmentObject& o : p.objects) codes.insert(codes.end(), o.codes.begin(), o.codes.end());
  if (codes.empty()) return;
  if (out.decoder == nullptr) {
    r->mask_note = "masks need --vae (big_vision's vae-oid.npz)";
    return;
  }
  const std::vector<float> masks = out.decoder->Decode(codes);  // [objects with codes, 64, 64]
  constexpr int S = MaskDecoder::kMaskSize;
  r->masks.resize(p.objects.size());
  size_t m = 0;
  for (size_t i = 0; i < p.objects.size(); ++i) {
    if (p.objects[i].codes.empty()) continue;
    const std::vector<float> mask64(masks.begin() + m * S * S, masks.begin() + (m + 1) * S * S);
    ++m;
    const std::vector<uint8_t> full = PasteMask(mask64, S, S, p.objects[i].loc, image_w, image_h);
    BoxMask& bm = r->masks[i];
    bm.present = true;
    bm.height = image_h;
    bm.width = image_w;
    bm.counts = RleString(RleCounts(full, image_h, image_w));
    if (!out.masks_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(out.masks_dir, ec);  // a failure shows in WritePngGray's error
      bm.png = std::to_string(r->index) + "_" + std::to_string(i) + ".png";
      std::vector<uint8_t> grey(full.size());
      for (size_t k = 0; k < full.size(); ++k) grey[k] = full[k] ? 255 : 0;
      WritePngGray(out.masks_dir + "/" + bm.png, grey, image_w, image_h);
    }
  }
}

}  // namespace pg
