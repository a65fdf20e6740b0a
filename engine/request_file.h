// Request files: JSON Lines of (image, prompt) requests, read by `generate --requests` and
// `caption --requests`. Each non-blank line is one object:
//   {"image": "a.jpg", "prompt": "caption en"}
//   {"image": "a.jpg", "prompts": ["caption en", "detect cat"]}   several prompts, one image
//   {"image": "a.jpg"}                                            the default prompt
// Expanded in line order, a line's prompts in their order: request i is the i-th pair. A
// relative "image" is taken relative to the file's directory (as in an --images list file). A
// UTF-8 BOM before the first line is skipped. Other keys are ignored.
#pragma once

#include <string>
#include <vector>

namespace pg {

struct ImagePrompt {
  std::string image;
  std::string prompt;
};

// Throws pg::Error naming the file and line: not JSON, not an object, no "image" string, a
// "prompt" that is not a string, "prompts" not a non-empty array of strings, both given,
// a NUL character in an image path or a prompt, or no request at all.
std::vector<ImagePrompt> ReadRequestFile(const std::string& path, const std::string& default_prompt);

}  // namespace pg
