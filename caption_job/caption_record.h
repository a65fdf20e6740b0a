// One line of the caption job's output (JSON Lines), the same bytes in the part files and in
// OUT.jsonl. Fields, in this order:
//   "image"   the path as listed (image_list.h); bytes that are not UTF-8 become U+FFFD
//   "image_bytes_b64"  only when the path is not valid UTF-8: base64 of the path's bytes
//   "index"   its position in the input list (list order; a directory's sorted paths)
//   "prompt"  only with several prompts or --requests: the prompt of this (image, prompt) item
//   "status"  "ok" | "error"
//   "text"    the decoded answer (up to <eos>); null for errors
//   "tokens"  generated tokens, <eos> not counted; 0 for errors
//   "eos"     true if the model ended the answer itself, false if max_new_tokens cut it
//             (omitted for errors)
//   "parse_error", "mask_note", "boxes"  only for "detect ..." / "segment ..." prompts
//             (caption_job/segment_fields.h): boxes [{"label","x0","y0","x1","y1"[,"mask"[,"mask_png"]]}]
//             in pixels of the ORIGINAL image (x0,y0 top-left); masks as COCO RLE with --vae
//   "logprob", "token_logprobs"  only with --scores (ok records): the sum and the list of the
//             generated tokens' log-probabilities under the model (<eos> included), 1e-4 steps
//   "error"   null for ok; the message (naming the image) for errors
// Nothing in a record depends on the layout, timing or batch, so a resumed job writes the same
// bytes as an uninterrupted one. docs/OUTPUT.md documents the schema for users.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/detection.h"

namespace pg {

// True for prompts whose answers are boxes ("detect cat ; dog").
bool IsDetectionPrompt(const std::string& prompt);

// One box's mask (segment answers with --vae): COCO RLE of the whole image.
struct BoxMask {
  bool present = false;
  int height = 0, width = 0;
  std::string counts;  // pycocotools' compressed RLE string
  std::string png;     // file name under --masks-dir, or empty
};

struct CaptionResult {
  std::string image;
  int64_t index = 0;
  const std::string* prompt = nullptr;  // written as "prompt" when set (multi-prompt jobs)
  std::string text;
  int64_t tokens = 0;
  bool hit_eos = false;
  bool with_boxes = false;
  std::vector<Detection> boxes;
  std::vector<BoxMask> masks;  // [boxes] or empty
  std::string parse_error;     // with_boxes: "parse_error" (null when empty)
  std::string mask_note;       // written as "mask_note" when set
  bool with_scores = false;
  std::vector<float> token_logprobs;  // [generated tokens], <eos> included
};

// Base64 (RFC 4648, padded) of a path's bytes, as "image_bytes_b64" holds it.
std::string ImagePathBase64(const std::string& bytes);

std::string OkRecordLine(const CaptionResult& r);
std::string ErrorRecordLine(const std::string& image, int64_t index, const std::string& error,
                            const std::string* prompt = nullptr);

}  // namespace pg
