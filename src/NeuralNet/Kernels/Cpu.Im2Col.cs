using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    /// <summary>
    /// im2col for one image: x (C, H, W) → cols (C·KH·KW, OH·OW), row r = (c, kh, kw), column = (oh, ow); zero where the
    /// window reaches into the padding. OH = (H + 2·pad − KH)/stride + 1, likewise OW. Same result as
    /// <see cref="Im2ColNaive{T}"/>.
    /// </summary>
    /// <remarks>
    /// With stride 1 every (row, oh) segment of cols is a contiguous slice of one input row plus zero borders, so it is
    /// a block copy; other strides gather with the bounds hoisted out of the inner loop. No per-segment span slicing:
    /// the segments are as short as 8 elements, where call overheads outweigh the copy.
    /// <c>colsStride</c> is the distance between two rows of cols, at least OH·OW; 0 means OH·OW (a dense matrix). A larger
    /// stride lets several images' columns sit side by side in one matrix (image b at column offset b·OH·OW), so one GEMM
    /// covers a batch of images.
    /// </remarks>
    /// <exception cref="ArgumentException">A size is not positive, OH/OW disagree with the input, or a span is too short.</exception>
    public static void Im2Col<T>(Span<T> cols, ReadOnlySpan<T> x, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW, int colsStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outSize = outH * outW;
        if (colsStride == 0) colsStride = outSize;
        ValidateIm2Col(nameof(Im2Col), cols.Length, x.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW, colsStride);
        // The lengths are validated above, so every segment below is in range. Segments are short (LeNet conv2: 8
        // floats), so span slicing and per-call overheads, not bandwidth, used to dominate: raw refs and block copies.
        ref T colsRef = ref MemoryMarshal.GetReference(cols);
        ref T xRef = ref MemoryMarshal.GetReference(x);
        bool vectors = Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
        if (stride == 1 && padding == 0)
        {
            // Every window lies inside the image: each (row, output row) segment is one copy of an input row's slice.
            for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < kernelH; kh++)
            for (int kw = 0; kw < kernelW; kw++)
            {
                ref T dst = ref Unsafe.Add(ref colsRef, (nint)((c * kernelH + kh) * kernelW + kw) * colsStride);
                ref T src = ref Unsafe.Add(ref xRef, (c * height + kh) * width + kw);
                for (int oh = 0; oh < outH; oh++)
                    CopyElements(ref Unsafe.Add(ref dst, oh * outW), ref Unsafe.Add(ref src, oh * width), outW, vectors);
            }
            return;
        }
        if (IsSameWidth(stride, padding, width, height, outW))
        {
            Im2ColSameWidth(ref colsRef, ref xRef, channels, height, width, kernelH, kernelW, padding, outH, colsStride, vectors);
            return;
        }
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            int iw0 = kw - padding;
            (int owStart, int owEnd) = InsideColumns(iw0, stride, width, outW);
            for (int oh = 0; oh < outH; oh++)
            {
                ref T dst = ref Unsafe.Add(ref colsRef, (nint)row * colsStride + oh * outW);
                int ih = oh * stride - padding + kh;
                if ((uint)ih >= (uint)height)
                {
                    ClearElements(ref dst, outW);
                    continue;
                }
                ref T src = ref Unsafe.Add(ref xRef, (c * height + ih) * width);
                if (owStart > 0) ClearElements(ref dst, owStart);
                if (stride == 1)
                {
                    CopyElements(ref Unsafe.Add(ref dst, owStart), ref Unsafe.Add(ref src, owStart + iw0), owEnd - owStart, vectors);
                }
                else
                {
                    for (int ow = owStart, iw = owStart * stride + iw0; ow < owEnd; ow++, iw += stride)
                        Unsafe.Add(ref dst, ow) = Unsafe.Add(ref src, iw);
                }
                if (owEnd < outW) ClearElements(ref Unsafe.Add(ref dst, owEnd), outW - owEnd);
            }
        }
    }

    /// <summary>
    /// Copies <paramref name="count"/> elements with 256-bit moves, the last one overlapping the previous (a copy may write
    /// an element twice); a general block copy costs more in call overhead than these short segments take.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyElements<T>(ref T dst, ref T src, int count, bool vectors) where T : unmanaged
    {
        if (vectors && count >= Vector256<T>.Count)
        {
            int last = count - Vector256<T>.Count;
            for (int j = 0; j < last; j += Vector256<T>.Count)
                Vector256.LoadUnsafe(ref src, (nuint)j).StoreUnsafe(ref dst, (nuint)j);
            Vector256.LoadUnsafe(ref src, (nuint)last).StoreUnsafe(ref dst, (nuint)last);
            return;
        }
        // Segments of 4..7 floats (modern-cnn's third convolution: 4 outputs per row) take two overlapping 128-bit moves.
        if (vectors && count >= Vector128<T>.Count && Vector128<T>.IsSupported)
        {
            int last = count - Vector128<T>.Count;
            Vector128.LoadUnsafe(ref src).StoreUnsafe(ref dst);
            Vector128.LoadUnsafe(ref src, (nuint)last).StoreUnsafe(ref dst, (nuint)last);
            return;
        }
        for (int j = 0; j < count; j++) Unsafe.Add(ref dst, j) = Unsafe.Add(ref src, j);
    }

    /// <summary>
    /// Sets <paramref name="count"/> elements to +0 (all-zero bits are +0 for every IEEE type). The padding borders are a
    /// few elements, stored directly: a block-clear call costs more than they do.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ClearElements<T>(ref T start, int count) where T : unmanaged
    {
        if (count <= 4)
        {
            for (int j = 0; j < count; j++) Unsafe.Add(ref start, j) = default;
            return;
        }
        Unsafe.InitBlockUnaligned(ref Unsafe.As<T, byte>(ref start), 0, (uint)(count * Unsafe.SizeOf<T>()));
    }

    /// <summary>
    /// Whether a padded stride-1 convolution keeps the width (OW = W, as "same" padding does) with the padding inside the
    /// image: then the columns of one kernel offset (kh, kw) are the image shifted by a constant, so an output row and the
    /// next are contiguous in both cols and x, and the whole row of cols is one block copy (or add) with a few padding
    /// positions per output row fixed up.
    /// </summary>
    private static bool IsSameWidth(int stride, int padding, int width, int height, int outW) =>
        stride == 1 && padding > 0 && outW == width && padding < width && padding < height;

    /// <summary>
    /// The output rows [start, end) of kernel row offset dh = kh − padding whose input row oh + dh lies in the image.
    /// </summary>
    private static (int Start, int End) InsideRows(int dh, int height, int outH)
    {
        int start = Math.Min(outH, Math.Max(0, -dh));
        return (start, Math.Max(start, Math.Min(outH, height - dh)));
    }

    /// <summary>
    /// im2col for <see cref="IsSameWidth"/>: cols[row, oh·W + ow] = x[c, oh + dh, ow + dw] (dh = kh − p, dw = kw − p),
    /// which is x at the constant offset dh·W + dw. Each row of cols is one block copy over the output rows inside the
    /// image, trimmed by |dw| elements at the end that would read outside the plane; then the |dw| columns of each output
    /// row that fall into the left or right padding (the copy brought in a neighbouring row's pixel there) and the output
    /// rows above and below the image are zeroed. The same values as the general path.
    /// </summary>
    private static void Im2ColSameWidth<T>(ref T colsRef, ref T xRef, int channels, int height, int width, int kernelH, int kernelW,
        int padding, int outH, int colsStride, bool vectors) where T : unmanaged
    {
        int plane = height * width, outSize = outH * width;
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        {
            int dh = kh - padding;
            (int ohStart, int ohEnd) = InsideRows(dh, height, outH);
            for (int kw = 0; kw < kernelW; kw++)
            {
                int dw = kw - padding;
                ref T dst = ref Unsafe.Add(ref colsRef, (nint)((c * kernelH + kh) * kernelW + kw) * colsStride);
                ClearElements(ref dst, ohStart * width);
                if (ohEnd > ohStart)
                {
                    int first = ohStart * width + Math.Max(0, -dw), end = ohEnd * width - Math.Max(0, dw);
                    CopyElements(ref Unsafe.Add(ref dst, first), ref Unsafe.Add(ref xRef, c * plane + first + dh * width + dw),
                        end - first, vectors);
                    // The padding columns of each output row: ow < −dw on the left, ow ≥ W − dw on the right.
                    int from = dw < 0 ? 0 : width - dw, count = Math.Abs(dw);
                    for (int oh = ohStart; oh < ohEnd; oh++)
                        for (int j = 0; j < count; j++) Unsafe.Add(ref dst, oh * width + from + j) = default;
                }
                ClearElements(ref Unsafe.Add(ref dst, ohEnd * width), outSize - ohEnd * width);
            }
        }
    }

    /// <summary>
    /// col2im for <see cref="IsSameWidth"/> on floats (W ≥ 8): each row of cols is added into the channel's plane of dx at the
    /// constant offset dh·W + dw as one run of 256-bit adds, a lane whose column falls into the padding keeping dx as it was
    /// (a select, not an added zero, so even a −0 in dx stays −0). Each dx element receives the same additions in the same
    /// (kh, kw) order as the general path, so the result is bit-identical to it.
    /// </summary>
    private static void Col2ImSameWidthFloat(ref float dxRef, ref float colsRef, int channels, int height, int width, int kernelH,
        int kernelW, int padding, int outH, int colsStride)
    {
        int plane = height * width;
        Vector256<int> lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), w = Vector256.Create(width), eight = Vector256.Create(8);
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        {
            int dh = kh - padding;
            (int ohStart, int ohEnd) = InsideRows(dh, height, outH);
            if (ohEnd == ohStart) continue;
            for (int kw = 0; kw < kernelW; kw++)
            {
                int dw = kw - padding;
                ref float src = ref Unsafe.Add(ref colsRef, (nint)((c * kernelH + kh) * kernelW + kw) * colsStride);
                ref float dst = ref Unsafe.Add(ref dxRef, c * plane + dh * width + dw);   // dst[p] pairs with src[p]
                int first = ohStart * width + Math.Max(0, -dw), end = ohEnd * width - Math.Max(0, dw), p = first;
                // Column of each lane, kept in [0, W) by one conditional subtraction per step (W ≥ 8).
                Vector256<int> column = lanes + Vector256.Create(first % width);
                column -= Vector256.GreaterThanOrEqual(column, w) & w;
                Vector256<int> shift = Vector256.Create(dw);
                for (; p <= end - 8; p += 8)
                {
                    Vector256<float> d = Vector256.LoadUnsafe(ref dst, (nuint)p);
                    Vector256<float> sum = d + Vector256.LoadUnsafe(ref src, (nuint)p);
                    Vector256<int> inside = Vector256.LessThan((column + shift).AsUInt32(), w.AsUInt32()).AsInt32();
                    Vector256.ConditionalSelect(inside.AsSingle(), sum, d).StoreUnsafe(ref dst, (nuint)p);
                    column += eight;
                    column -= Vector256.GreaterThanOrEqual(column, w) & w;
                }
                for (; p < end; p++)
                {
                    int iw = p % width + dw;
                    if ((uint)iw < (uint)width) Unsafe.Add(ref dst, p) += Unsafe.Add(ref src, p);
                }
            }
        }
    }

    /// <summary>
    /// The output columns [start, end) whose input column iw = ow·stride + iw0 lies inside [0, width), for the kernel
    /// column with offset iw0 = kw − padding; end ≥ start (equal when none does). Shared by im2col and col2im.
    /// </summary>
    private static (int Start, int End) InsideColumns(int iw0, int stride, int width, int outW)
    {
        int start = iw0 >= 0 ? 0 : (-iw0 + stride - 1) / stride;
        int end = Math.Min(outW, width - iw0 <= 0 ? 0 : (width - 1 - iw0) / stride + 1);
        return (start, Math.Max(start, end));
    }

    /// <summary>
    /// col2im for one image, the adjoint of <see cref="Im2Col{T}"/>: ADDS every entry of cols (C·KH·KW, OH·OW) into
    /// dx (C, H, W) at the input position it was read from; padding positions are dropped. Additions happen in the same
    /// order as <see cref="Col2ImNaive{T}"/>, so the result is bit-identical to it.
    /// </summary>
    /// <remarks><c>colsStride</c>: the distance between two rows of cols, at least OH·OW; 0 means OH·OW (see <see cref="Im2Col{T}"/>).</remarks>
    /// <exception cref="ArgumentException">A size is not positive, OH/OW disagree with the input, or a span is too short.</exception>
    public static void Col2Im<T>(Span<T> dx, ReadOnlySpan<T> cols, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW, int colsStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outSize = outH * outW;
        if (colsStride == 0) colsStride = outSize;
        ValidateIm2Col(nameof(Col2Im), cols.Length, dx.Length, channels, height, width, kernelH, kernelW, stride, padding, outH, outW, colsStride);
        // Lengths validated above; short segments, so raw refs and an inline vector loop instead of per-segment calls.
        ref T dxRef = ref MemoryMarshal.GetReference(dx);
        ref T colsRef = ref MemoryMarshal.GetReference(cols);
        bool vectors = Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported;
        if (typeof(T) == typeof(float) && vectors && width >= 8 && IsSameWidth(stride, padding, width, height, outW))
        {
            Col2ImSameWidthFloat(ref Unsafe.As<T, float>(ref dxRef), ref Unsafe.As<T, float>(ref colsRef), channels, height, width,
                kernelH, kernelW, padding, outH, colsStride);
            return;
        }
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int row = (c * kernelH + kh) * kernelW + kw;
            int iw0 = kw - padding;
            (int owStart, int owEnd) = InsideColumns(iw0, stride, width, outW);
            if (owEnd == owStart) continue;
            for (int oh = 0; oh < outH; oh++)
            {
                int ih = oh * stride - padding + kh;
                if ((uint)ih >= (uint)height) continue;
                ref T dst = ref Unsafe.Add(ref dxRef, (c * height + ih) * width);
                ref T src = ref Unsafe.Add(ref colsRef, (nint)row * colsStride + oh * outW);
                if (stride == 1)
                {
                    // Element-wise sums: the vector and scalar forms round identically.
                    ref T d = ref Unsafe.Add(ref dst, owStart + iw0);
                    ref T s = ref Unsafe.Add(ref src, owStart);
                    int length = owEnd - owStart, j = 0;
                    if (vectors)
                    {
                        for (; j <= length - Vector256<T>.Count; j += Vector256<T>.Count)
                            (Vector256.LoadUnsafe(ref d, (nuint)j) + Vector256.LoadUnsafe(ref s, (nuint)j)).StoreUnsafe(ref d, (nuint)j);
                        if (Vector128<T>.IsSupported && j <= length - Vector128<T>.Count)
                        {
                            (Vector128.LoadUnsafe(ref d, (nuint)j) + Vector128.LoadUnsafe(ref s, (nuint)j)).StoreUnsafe(ref d, (nuint)j);
                            j += Vector128<T>.Count;
                        }
                    }
                    for (; j < length; j++) Unsafe.Add(ref d, j) += Unsafe.Add(ref s, j);
                }
                else
                {
                    for (int ow = owStart, iw = owStart * stride + iw0; ow < owEnd; ow++, iw += stride)
                        Unsafe.Add(ref dst, iw) += Unsafe.Add(ref src, ow);
                }
            }
        }
    }

    private static void ValidateIm2Col(string kernel, int colsLength, int imageLength, int channels, int height, int width,
        int kernelH, int kernelW, int stride, int padding, int outH, int outW, int colsStride = 0)
    {
        if (channels <= 0 || height <= 0 || width <= 0 || kernelH <= 0 || kernelW <= 0 || stride <= 0 || padding < 0)
            throw new ArgumentException($"{kernel}: sizes must be positive (padding ≥ 0), got C={channels}, H={height}, W={width}, " +
                $"kernel {kernelH}×{kernelW}, stride {stride}, padding {padding}.");
        int expectedH = (height + 2 * padding - kernelH) / stride + 1, expectedW = (width + 2 * padding - kernelW) / stride + 1;
        if (height + 2 * padding < kernelH || width + 2 * padding < kernelW || outH != expectedH || outW != expectedW)
            throw new ArgumentException($"{kernel}: a {kernelH}×{kernelW} kernel with stride {stride} and padding {padding} on a " +
                $"{height}×{width} input gives a {expectedH}×{expectedW} output, got {outH}×{outW}.");
        if (colsStride == 0) colsStride = outH * outW;
        if (colsStride < outH * outW)
            throw new ArgumentException($"{kernel}: the column stride {colsStride} is less than OH·OW = {outH * outW}.");
        long colsNeeded = ((long)channels * kernelH * kernelW - 1) * colsStride + outH * outW, imageNeeded = (long)channels * height * width;
        if (colsLength < colsNeeded || imageLength < imageNeeded)
            throw new ArgumentException($"{kernel}: needs {colsNeeded} column and {imageNeeded} image elements, got {colsLength} and {imageLength}.");
    }
}
