using System.Numerics;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

/// <summary>How a convolution computes its training passes (see <see cref="Cpu.PlanConvolution{T}"/>).</summary>
internal enum ConvolutionPath
{
    /// <summary>The single-channel direct kernels (<see cref="Cpu.Conv2DSingleChannel"/>): the image is read in place.</summary>
    Direct,

    /// <summary>One im2col and one GEMM per image and pass.</summary>
    PerImage,

    /// <summary>
    /// The im2col matrices of a chunk of consecutive images side by side (image b at column offset b·OH·OW). The forward
    /// pass still runs one GEMM per image, reading its columns in place; the backward pass gathers the chunk's output
    /// gradients to (OC, images·OH·OW) and runs one GEMM per chunk for the weight gradient and one for the input gradient's
    /// columns.
    /// </summary>
    Batched,
}

/// <summary>
/// A convolution's plan: the path of its training passes, and for inference whether im2col writes straight into the
/// GEMM's packed panels. Decided here, from the layer's shape, so the module only runs what the kernels chose.
/// </summary>
/// <param name="Training">The path of a training forward pass and of every backward pass.</param>
/// <param name="PackedInference">An inference forward pass of the <see cref="ConvolutionPath.PerImage"/> or
/// <see cref="ConvolutionPath.Batched"/> path writes each image's columns into packed GEMM panels
/// (<see cref="Cpu.Im2ColPacked"/>); otherwise it runs im2col + GEMM per image.</param>
internal readonly record struct ConvolutionPlan(ConvolutionPath Training, bool PackedInference)
{
    /// <summary>
    /// Elements of the column matrices a training forward pass keeps for the backward pass: every image's C·K·K × OH·OW
    /// columns (zero on the direct path).
    /// </summary>
    public long KeptColumns(int batch, int fanIn, int spatial) => Training == ConvolutionPath.Direct ? 0 : (long)batch * fanIn * spatial;

    /// <summary>
    /// Elements of one thread's work space on the batched path: the input gradient's columns (C·K·K × chunk·OH·OW) followed
    /// by the chunk's output gradients in (OC, chunk·OH·OW) layout; zero on the other paths.
    /// </summary>
    public long BatchedScratch(int chunkImages, int fanIn, int outChannels, int spatial) =>
        Training == ConvolutionPath.Batched ? (long)chunkImages * spatial * (fanIn + outChannels) : 0;
}

internal static partial class Cpu
{
    /// <summary>
    /// Layers with at most this many output positions (OH·OW) per image take the batched path. Their per-image backward
    /// GEMMs are narrow: the weight gradient sums only OH·OW terms per entry and then reads and writes all of dW, and the
    /// input gradient's product has OH·OW columns, less than two micro-kernel panels. Side by side, a chunk's images make
    /// both the chunk's size times longer. Larger outputs (LeNet-5's conv2: 64, modern-cnn's conv2: 144) measured no
    /// faster batched: the chunk's columns outgrow the caches and the GEMM packs what it read in place per image.
    /// </summary>
    internal const int ConvBatchedMaxSpatial = 32;

    /// <summary>
    /// Chooses how a convolution with this shape runs (<see cref="ConvolutionPlan"/>): the direct single-channel kernels for
    /// a float layer with one input channel, stride 1, no padding and K² ≤ <see cref="GemmKC"/> (with 256-bit vectors);
    /// the batched path for outputs of at most <see cref="ConvBatchedMaxSpatial"/> positions; otherwise one GEMM per image. Packed inference columns where <see cref="CanUsePackedIm2Col"/> allows them.
    /// </summary>
    /// <param name="channels">C.</param>
    /// <param name="outChannels">OC.</param>
    /// <param name="kernel">K.</param>
    /// <param name="stride">The stride.</param>
    /// <param name="padding">The zero padding.</param>
    /// <param name="outH">OH.</param>
    /// <param name="outW">OW.</param>
    public static ConvolutionPlan PlanConvolution<T>(int channels, int outChannels, int kernel, int stride, int padding, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool isFloat = typeof(T) == typeof(float);
        if (isFloat && channels == 1 && stride == 1 && padding == 0 && kernel * kernel <= GemmKC && Vector256.IsHardwareAccelerated)
            return new ConvolutionPlan(ConvolutionPath.Direct, false);
        bool packed = isFloat && CanUsePackedIm2Col(outChannels, channels * kernel * kernel, outH, outW, stride, padding);
        return new ConvolutionPlan(outH * outW <= ConvBatchedMaxSpatial ? ConvolutionPath.Batched : ConvolutionPath.PerImage, packed);
    }

    /// <summary>
    /// Copies a chunk's planes from NCHW (images, OC, S), S = OH·OW, into the (OC, images·S) layout of the batched GEMMs:
    /// image b's plane o goes to row o, columns [b·S, (b + 1)·S).
    /// </summary>
    /// <exception cref="ArgumentException">A size is not positive or a span is too short.</exception>
    public static void GatherChunkPlanes<T>(Span<T> rows, ReadOnlySpan<T> nchw, int images, int channels, int spatial) where T : unmanaged
    {
        CheckChunkPlanes(nameof(GatherChunkPlanes), nchw.Length, rows.Length, images, channels, spatial);
        int ld = images * spatial;
        for (int b = 0; b < images; b++)
        for (int o = 0; o < channels; o++)
            nchw.Slice((b * channels + o) * spatial, spatial).CopyTo(rows.Slice(o * ld + b * spatial, spatial));
    }

    private static void CheckChunkPlanes(string kernel, int nchwLength, int rowsLength, int images, int channels, int spatial)
    {
        if (images <= 0 || channels <= 0 || spatial <= 0)
            throw new ArgumentException($"{kernel}: sizes must be positive, got {images} images, {channels} channels, {spatial} positions.");
        long needed = (long)images * channels * spatial;
        if (nchwLength < needed || rowsLength < needed)
            throw new ArgumentException($"{kernel}: needs {needed} elements on both sides, got {nchwLength} (NCHW) and {rowsLength} (rows).");
    }
}
