// libpng reports fatal errors through a callback that must not return: ours records the message
// and longjmps back to RunPngWrite, which returns false. Everything with a destructor lives in
// PngWriteJob, above the setjmp frame, so the longjmp skips no destructor.
#include "io/png_write.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <filesystem>

#include "runtime/check.h"

namespace pg {
namespace {

struct PngWriteJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::FILE* file = nullptr;
  std::jmp_buf jump;
  char message[512] = {0};
  ~PngWriteJob() {
    if (png != nullptr) png_destroy_write_struct(&png, info ? &info : nullptr);
    if (file != nullptr) std::fclose(file);
  }
};

[[noreturn]] void OnPngWriteError(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngWriteJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", msg);
  std::longjmp(job->jump, 1);
}

void OnPngWriteWarning(png_structp, png_const_charp) {}

bool RunPngWrite(PngWriteJob& job, const uint8_t* pixels, int width, int height) {
  if (setjmp(job.jump) != 0) return false;
  png_init_io(job.png, job.file);
  png_set_IHDR(job.png, job.info, width, height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(job.png, job.info);
  for (int y = 0; y < height; ++y)
    png_write_row(job.png, const_cast<png_bytep>(pixels + static_cast<size_t>(y) * width));
  png_write_end(job.png, job.info);
  return true;
}

}  // namespace

void WritePngGray(const std::string& path, const std::vector<uint8_t>& pixels, int width, int height) {
  PG_CHECK(width > 0 && height > 0 && pixels.size() == static_cast<size_t>(width) * height,
           "PNG '" << path << "': " << pixels.size() << " pixels for " << width << "x" << height);
  const std::string tmp = path + ".tmp";
  {
    PngWriteJob job;
    job.file = std::fopen(tmp.c_str(), "wb");
    PG_CHECK(job.file != nullptr, "cannot create PNG '" << tmp << "'");
    job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, OnPngWriteError, OnPngWriteWarning);
    PG_CHECK(job.png != nullptr, "PNG '" << path << "': png_create_write_struct failed");
    job.info = png_create_info_struct(job.png);
    PG_CHECK(job.info != nullptr, "PNG '" << path << "': png_create_info_struct failed");
    const bool ok = RunPngWrite(job, pixels.data(), width, height);
    const bool flushed = std::fflush(job.file) == 0;
    if (!ok || !flushed) {
      std::remove(tmp.c_str());
      PG_THROW("cannot write PNG '" << path << "': " << (ok ? "write failed" : job.message));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  PG_CHECK(!ec, "cannot rename '" << tmp << "' to '" << path << "': " << ec.message());
}

}  // namespace pg
