#include "caption_job/image_prefetcher.h"

#include <algorithm>

#include "runtime/check.h"

namespace pg {

PreparedImage PrepareImage(const PrefetchJob& job, const PrefetchOptions& options) {
  PreparedImage out;
  out.index = job.index;
  out.path = job.path;
  if (!job.error.empty()) {
    out.error = job.error;
    return out;
  }
  try {
    const Image image = job.bytes ? DecodeImageBuffer(reinterpret_cast<const uint8_t*>(job.bytes->data()),
                                                      job.bytes->size(), job.path, options.decode)
                                  : DecodeImageFile(job.path, options.decode);
    out.width = image.width;
    out.height = image.height;
    out.pixels = PreprocessImage(image, options.image_size, options.filter);
    out.ok = true;
  } catch (const std::exception& e) {
    out.error = e.what();
    out.pixels.clear();
  } catch (...) {
    out.error = "image '" + job.path + "': unknown error while decoding";
    out.pixels.clear();
  }
  return out;
}

ImagePrefetcher::ImagePrefetcher(std::vector<PrefetchJob> jobs, const PrefetchOptions& options)
    : jobs_(std::move(jobs)), options_(options) {
  PG_CHECK(options.threads >= 1, "prefetch: threads must be >= 1, got " << options.threads);
  PG_CHECK(options.capacity >= 1, "prefetch: capacity must be >= 1, got " << options.capacity);
  slots_.resize(options.capacity);
  const int n = static_cast<int>(std::min<int64_t>(options.threads, std::max<int64_t>(1, jobs_.size())));
  for (int t = 0; t < n; ++t) workers_.emplace_back([this] { Worker(); });
}

ImagePrefetcher::~ImagePrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  space_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ImagePrefetcher::Worker() {
  const int64_t n = static_cast<int64_t>(jobs_.size()), cap = options_.capacity;
  for (;;) {
    int64_t i;
    {
      std::unique_lock<std::mutex> lock(mu_);
      space_cv_.wait(lock, [&] { return stop_ || next_claim_ >= n || next_claim_ < next_take_ + cap; });
      if (stop_ || next_claim_ >= n) return;
      i = next_claim_++;
    }
    PreparedImage img = PrepareImage(jobs_[i], options_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      slots_[i % cap] = std::move(img);
    }
    ready_cv_.notify_all();
  }
}

std::vector<PreparedImage> ImagePrefetcher::Take(int max, bool block) {
  std::vector<PreparedImage> out;
  const int64_t n = static_cast<int64_t>(jobs_.size()), cap = options_.capacity;
  std::unique_lock<std::mutex> lock(mu_);
  while (static_cast<int>(out.size()) < max && next_take_ < n) {
    std::optional<PreparedImage>& slot = slots_[next_take_ % cap];
    if (slot.has_value()) {
      out.push_back(std::move(*slot));
      slot.reset();
      ++next_take_;
      space_cv_.notify_all();
    } else if (block) {
      ready_cv_.wait(lock, [&] { return slots_[next_take_ % cap].has_value(); });
    } else {
      break;
    }
  }
  return out;
}

bool ImagePrefetcher::exhausted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_take_ >= static_cast<int64_t>(jobs_.size());
}

}  // namespace pg
