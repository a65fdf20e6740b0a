// ImagePrefetcher: decodes and preprocesses the caption job's images on background threads
// while the model runs, into a bounded, in-order queue.
//
//   ImagePrefetcher pf(jobs, {.threads = 2, .capacity = 64, .image_size = 224, ...});
//   std::vector<PreparedImage> next = pf.Take(free_slots, /*block=*/false);
//
// At most `capacity` images are decoded ahead of the consumer (memory stays at capacity x
// S x S x 3 floats), and images come out in job order whatever thread decoded them. A
// corrupt, truncated, missing or too large image is not an exception: it comes out with
// ok == false and the error message (naming the file).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/image_decode.h"
#include "io/image_resize.h"

namespace pg {

struct PrefetchJob {
  int64_t index = 0;  // position in the input list
  std::string path;
  // Tar shards (caption_job/shard_job.h): the image's bytes, decoded instead of reading `path`
  // (which then only names the image); or, when `error` is set, the job fails with it.
  std::shared_ptr<const std::string> bytes = nullptr;
  std::string error = {};  // (initialisers: PrefetchJob{index, path} stays warning-free)
};

struct PreparedImage {
  int64_t index = 0;
  std::string path;
  bool ok = false;
  std::string error;            // when !ok
  int width = 0, height = 0;    // of the original image (for detection boxes)
  std::vector<float> pixels;    // [S, S, 3] in [-1, 1] (PreprocessImage)
};

struct PrefetchOptions {
  int threads = 2;
  int capacity = 32;  // decoded images held ahead of the consumer
  int image_size = 224;
  ResizeFilter filter = ResizeFilter::kBilinearAntialias;
  DecodeOptions decode;
};

// Decodes and preprocesses one image; never throws.
PreparedImage PrepareImage(const PrefetchJob& job, const PrefetchOptions& options);

class ImagePrefetcher {
 public:
  ImagePrefetcher(std::vector<PrefetchJob> jobs, const PrefetchOptions& options);
  ~ImagePrefetcher();  // stops the workers (an image being decoded is finished first)
  ImagePrefetcher(const ImagePrefetcher&) = delete;
  ImagePrefetcher& operator=(const ImagePrefetcher&) = delete;

  // The next images in job order, at most `max`. block: waits until `max` are ready or the
  // jobs run out; otherwise returns only those already prepared (possibly none).
  std::vector<PreparedImage> Take(int max, bool block);

  // True once every job has been taken.
  bool exhausted() const;
  int64_t size() const { return static_cast<int64_t>(jobs_.size()); }

 private:
  void Worker();

  const std::vector<PrefetchJob> jobs_;
  const PrefetchOptions options_;
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // a slot was filled
  std::condition_variable space_cv_;  // a slot was freed, or stop
  std::vector<std::optional<PreparedImage>> slots_;  // ring of `capacity`, job i in slot i % capacity
  int64_t next_claim_ = 0;  // next job a worker starts
  int64_t next_take_ = 0;   // next job the consumer takes
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace pg
