// The detect / segment fields of a caption record (caption_record.h), from the decoded answer:
//   "parse_error"  null, or why the answer is not "<loc>x4 [<seg>x16] label ; ..." (io/segmentation.h);
//                  the record keeps the raw "text" and has no boxes then
//   "mask_note"    segment prompts without --vae: the masks need the decoder
//   "boxes"        [{"label", "x0", "y0", "x1", "y1"}] in pixels of the original image, and with
//                  --vae, for objects with 16 <seg> codes, "mask": {"size": [height, width],
//                  "counts": COCO RLE string (pycocotools)} of the whole image, plus with
//                  --masks-dir "mask_png": the PNG's file name in that directory,
//                  "<index>_<object>.png" (8-bit grey, 255 = object, image-sized)
// Masks: MaskDecoder (64x64 logits) -> PasteMask (big_vision's resize into the int()ed box, > 0).
#pragma once

#include <string>

#include "caption_job/caption_record.h"
#include "models/mask_decoder.h"

namespace pg {

struct SegmentOutput {
  const MaskDecoder* decoder = nullptr;  // --vae; null: boxes only (+ "mask_note" on segment prompts)
  std::string masks_dir;                 // --masks-dir; empty: no PNGs
};

// True for prompts whose records carry these fields ("detect ...", "segment ...").
bool IsSegmentOrDetectPrompt(const std::string& prompt);

// Fills r->with_boxes, boxes, masks, parse_error and mask_note from r->text for `prompt`, on an
// image of image_w x image_h pixels. PNGs are written (atomically) before the record is.
void AddSegmentFields(const std::string& prompt, int image_w, int image_h, const SegmentOutput& out,
                      CaptionResult* r);

}  // namespace pg
