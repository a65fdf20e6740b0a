// Resize to the model's square resolution and map pixels to [-1, 1], as the two reference
// pipelines do:
//
//   kBilinearAntialias  big_vision / the PaliGemma colab: tf.image.resize(bilinear,
//                       antialias=True), i.e. TF's ScaleAndTranslate op with the triangle
//                       kernel widened by the downscale factor, computed in float32 with no
//                       uint8 rounding, then x / 127.5 - 1 (the colab's preprocess_image).
//   kBicubicPil         Hugging Face SiglipImageProcessorPil: PIL Image.resize(BICUBIC)
//                       (Pillow's fixed-point separable convolution, a = -0.5, support
//                       widened when downscaling, uint8 rounding + clipping after each
//                       pass), then float32(x * (1/255) in float64), (x - 0.5) / 0.5.
//
// When the image already has the target size both skip filtering and only map the values.
#pragma once

#include <string>
#include <vector>

#include "io/image_decode.h"

namespace pg {

enum class ResizeFilter { kBilinearAntialias, kBicubicPil };

// "bilinear" <-> kBilinearAntialias, "bicubic" <-> kBicubicPil (for command-line flags).
const char* ResizeFilterName(ResizeFilter filter);
ResizeFilter ParseResizeFilter(const std::string& name);

// TF ScaleAndTranslate(kernel_type="triangle", antialias=true, translation=0) on 8-bit RGB.
// image.rgb: [in_height, in_width, 3] -> [out_height, out_width, 3] float, in 0..255 units.
std::vector<float> ResizeBilinearAntialias(const Image& image, int out_height, int out_width);

// Pillow's Image.resize((out_width, out_height), Image.BICUBIC) on an RGB image, bit-exact
// with Pillow >= 13 (what current transformers installs). Pass order, Pillow 13
// src/libImaging/Resample.c ImagingResampleInner (python-pillow/Pillow#9549): the vertical pass
// runs first when the height shrinks by more than twice as many pixels as the width
// (PilVerticalPassFirst); otherwise the horizontal pass runs first, over only the rows the
// vertical pass reads (Pillow <= 12 always did this). Fixtures: tests/golden/make_pil13_resize_fixtures.py.
// image.rgb: [in_height, in_width, 3] -> rgb: [out_height, out_width, 3] uint8.
Image ResizeBicubicPil(const Image& image, int out_height, int out_width);

// Pillow 13's rule: (in_height - out_height) > 0 and > 2 * (in_width - out_width).
bool PilVerticalPassFirst(int in_height, int in_width, int out_height, int out_width);

// The model input for one image.
// image.rgb: [height, width, 3] uint8 -> [size, size, 3] float in [-1, 1] (NHWC, no batch).
std::vector<float> PreprocessImage(const Image& image, int size, ResizeFilter filter);

}  // namespace pg
