// Image preprocessing flags shared by generate and caption.
//   --preprocess big_vision  bilinear antialiased resize, PNG/GIF/... alpha dropped (the default;
//                            big_vision's pipeline and PIL's convert("RGB"))
//   --preprocess hf          PIL bicubic resize (Pillow >= 13's pass order), alpha composited
//                            onto white (SiglipImageProcessor's convert_to_rgb)
//   --resize bilinear|bicubic  the older spelling of the same choice (alpha follows it); given
//                            together with --preprocess, the two must agree.
// Both set the job's `resize` string ("bilinear" | "bicubic"); the jobs derive the alpha rule
// from it (DecodeOptions::alpha_onto_white for bicubic), so one setting can never mix the two.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "runtime/check.h"

namespace pg {

// Adds --preprocess and --resize; call the returned function in the subcommand's callback.
inline std::function<void()> AddPreprocessFlags(CLI::App* cmd, std::string* resize) {
  auto preprocess = std::make_shared<std::string>();
  CLI::Option* pre = cmd->add_option("--preprocess", *preprocess,
                                     "big_vision (bilinear antialiased, alpha dropped) or hf (PIL bicubic, alpha "
                                     "onto white, as Hugging Face's processor)")
                         ->check(CLI::IsMember({"big_vision", "hf"}))
                         ->default_str("big_vision");
  CLI::Option* rs = cmd->add_option("--resize", *resize, "bilinear (= --preprocess big_vision) or bicubic (= hf)");
  return [pre, rs, preprocess, resize] {
    if (pre->count() == 0) return;
    const std::string implied = *preprocess == "hf" ? "bicubic" : "bilinear";
    PG_CHECK(rs->count() == 0 || *resize == implied, "--preprocess " << *preprocess << " resizes with " << implied
                                                                      << " but --resize " << *resize
                                                                      << " was given too; pass one of them");
    *resize = implied;
  };
}

}  // namespace pg
