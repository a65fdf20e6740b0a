// Strings on their way into the caption job's JSON files (records, manifest). JSON holds
// Unicode text only, so bytes that are not valid UTF-8 (a file name in another encoding, a
// byte-fallback piece cut mid-character) are replaced by U+FFFD, the same way everywhere, and
// comparisons with what a file holds go through JsonSafeText too.
#pragma once

#include <string>

namespace pg {

// `text` as a JSON file stores it: unchanged if it is valid UTF-8, else each invalid byte
// replaced by U+FFFD.
std::string JsonSafeText(const std::string& text);

// Throws pg::Error naming `what` (e.g. "--prompt") and the first invalid byte if `text` is not
// valid UTF-8: for inputs where a silent replacement would change the job.
void CheckUtf8(const std::string& text, const std::string& what);

// At most `max_chars` bytes of `text` for an error message, with "..." and the full size if cut.
std::string ShortenForMessage(const std::string& text, size_t max_chars = 60);

}  // namespace pg
