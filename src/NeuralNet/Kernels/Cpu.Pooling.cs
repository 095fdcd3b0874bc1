using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NeuralNet.Kernels;

internal static partial class Cpu
{
    /// <summary>
    /// Reference max pooling over planes: x (planes, H, W) → y (planes, OH, OW), with OH = (H − K)/stride + 1.
    /// <paramref name="argmax"/> receives, per output, the flat index into x of the maximum (the first one on ties).
    /// </summary>
    public static void MaxPoolForwardNaive<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        for (int ow = 0; ow < outW; ow++)
        {
            int best = (p * height + oh * stride) * width + ow * stride;
            T bestValue = x[best];
            for (int kh = 0; kh < kernelSize; kh++)
            for (int kw = 0; kw < kernelSize; kw++)
            {
                int idx = (p * height + oh * stride + kh) * width + ow * stride + kw;
                if (x[idx] > bestValue) { bestValue = x[idx]; best = idx; }
            }
            int o = (p * outH + oh) * outW + ow;
            y[o] = bestValue;
            argmax[o] = best;
        }
    }

    /// <summary>Max-pooling backward: dx is cleared, then each dy is added at its <paramref name="argmax"/> position.</summary>
    public static void MaxPoolBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        for (int i = 0; i < dy.Length; i++) dx[argmax[i]] += dy[i];
    }
}

internal static partial class Cpu
{
    /// <summary>
    /// Max pooling over planes: x (planes, H, W) → y (planes, OH, OW), OH = (H − K)/stride + 1, likewise OW; the same
    /// result as <see cref="MaxPoolForwardNaive{T}"/>, including <paramref name="argmax"/> (flat index into x of the
    /// maximum, the first in (kh, kw) order on ties; a NaN in the first window position propagates like in the reference).
    /// </summary>
    /// <remarks>
    /// The 2×2, stride-2 case (every network here) runs on SIMD for <see cref="float"/>: two input rows are split into
    /// even and odd columns with one permute each, then three compare-and-select steps carry value and index together.
    /// </remarks>
    /// <exception cref="ArgumentException">A size is not positive, OH/OW disagree with the input, or a span is too short.</exception>
    public static void MaxPoolForward<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (planes <= 0 || height <= 0 || width <= 0 || kernelSize <= 0 || stride <= 0 || kernelSize > height || kernelSize > width)
            throw new ArgumentException($"MaxPoolForward: sizes must be positive with the {kernelSize}×{kernelSize} window inside the " +
                $"{height}×{width} input, got {planes} planes, stride {stride}.");
        if (outH != (height - kernelSize) / stride + 1 || outW != (width - kernelSize) / stride + 1)
            throw new ArgumentException($"MaxPoolForward: a {kernelSize}×{kernelSize} window with stride {stride} on {height}×{width} " +
                $"gives {(height - kernelSize) / stride + 1}×{(width - kernelSize) / stride + 1}, got {outH}×{outW}.");
        long inNeeded = (long)planes * height * width, outNeeded = (long)planes * outH * outW;
        if (x.Length < inNeeded || y.Length < outNeeded || argmax.Length < outNeeded)
            throw new ArgumentException($"MaxPoolForward: needs {inNeeded} input and {outNeeded} output/argmax elements, " +
                $"got {x.Length}, {y.Length} and {argmax.Length}.");

        int parts = ElementwiseParts((int)Math.Min(int.MaxValue, inNeeded), planes);
        if (parts <= 1)
        {
            MaxPoolForwardPlanes(y, argmax, x, planes, height, width, kernelSize, stride, outH, outW);
            return;
        }
        unsafe
        {
            fixed (T* py = y, px = x)
            fixed (int* pa = argmax)
            {
                var job = PoolJob<T>.ForThisThread;
                job.SetForward(py, pa, px, planes, height, width, kernelSize, stride, outH, outW);
                try
                {
                    KernelThreads.Run(job, parts);
                }
                finally
                {
                    job.Clear();
                }
            }
        }
    }

    /// <summary>
    /// Max-pooling backward over planes: dx (planes, H, W) is cleared, then each dy is added at its
    /// <paramref name="argmax"/> position (which lies in the same plane); large tensors are split over the kernel threads by
    /// planes, each plane's additions in the same order, so the result is the same bits for any thread count.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths are not whole planes, or dy and argmax differ in length.</exception>
    public static void MaxPoolBackward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax, int planes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (planes <= 0 || dx.Length % planes != 0 || dy.Length % planes != 0 || argmax.Length != dy.Length)
            throw new ArgumentException($"MaxPoolBackward: dx ({dx.Length}) and dy ({dy.Length}) must hold {planes} whole planes, " +
                $"and argmax ({argmax.Length}) one index per dy.");
        int parts = ElementwiseParts(dx.Length, planes);
        if (parts <= 1)
        {
            MaxPoolBackward(dx, dy, argmax);
            return;
        }
        unsafe
        {
            fixed (T* pdx = dx, pdy = dy)
            fixed (int* pa = argmax)
            {
                var job = PoolJob<T>.ForThisThread;
                job.SetBackward(pdx, pdy, pa, planes, dx.Length / planes, dy.Length / planes);
                try
                {
                    KernelThreads.Run(job, parts);
                }
                finally
                {
                    job.Clear();
                }
            }
        }
    }

    /// <summary>Pooling by planes over the kernel threads: each part a contiguous range of whole planes.</summary>
    /// <summary>
    /// Max-pooling backward for a 2×2 window with stride 2 and no padding, from the <paramref name="argmax"/> of
    /// <see cref="MaxPoolForward{T}"/> with those sizes: the same dx as <see cref="MaxPoolBackward{T}(Span{T}, ReadOnlySpan{T}, ReadOnlySpan{int}, int)"/>
    /// bit for bit (every dx is 0 + the one dy whose window maximum it is, or 0), but written in one pass over dx, each
    /// element compared with its window's argmax instead of cleared and then scattered into.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths do not fit (planes, H, W) and (planes, ⌊H/2⌋, ⌊W/2⌋).</exception>
    public static void MaxPool2x2Backward<T>(Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax, int planes, int height, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outH = height / 2, outW = width / 2;
        if (planes <= 0 || outH <= 0 || outW <= 0 || dx.Length != (long)planes * height * width
            || dy.Length != (long)planes * outH * outW || argmax.Length != dy.Length)
            throw new ArgumentException($"MaxPool2x2Backward: {planes} planes of {height}×{width} need dx of {(long)planes * height * width} " +
                $"and dy, argmax of {(long)planes * outH * outW} elements, got {dx.Length}, {dy.Length} and {argmax.Length}.");
        if (typeof(T) != typeof(float) || !Avx2.IsSupported)
        {
            MaxPoolBackward(dx, dy, argmax, planes);
            return;
        }
        int parts = ElementwiseParts(dx.Length, planes);
        unsafe
        {
            fixed (T* pdx = dx, pdy = dy)
            fixed (int* pa = argmax)
            {
                if (parts <= 1)
                {
                    MaxPool2x2BackwardPlanes((float*)pdx, (float*)pdy, pa, 0, planes, height, width);
                    return;
                }
                var job = PoolJob<T>.ForThisThread;
                job.SetBackward2x2(pdx, pdy, pa, planes, height, width);
                try
                {
                    KernelThreads.Run(job, parts);
                }
                finally
                {
                    job.Clear();
                }
            }
        }
    }

    /// <summary>
    /// Planes [first, first + count) of <see cref="MaxPool2x2Backward{T}"/>: each pair of input rows is written from one
    /// row of dy and argmax, 4 outputs (8 columns of each row) at a time: dy and argmax widened to pairs, the argmax
    /// compared with each column's index, dx = 0 + dy where equal (as the scatter adds into a cleared dx) and 0 elsewhere.
    /// Rows and columns no window covers (odd H or W) are cleared.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxPool2x2BackwardPlanes(float* dx, float* dy, int* argmax, int first, int count, int height, int width)
    {
        int outH = height / 2, outW = width / 2;
        Vector256<int> pairs = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        Vector256<int> columns = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        for (int p = first; p < first + count; p++)
        {
            for (int oh = 0; oh < outH; oh++)
            {
                int rowBase = (p * height + 2 * oh) * width;
                float* r0 = dx + rowBase, r1 = r0 + width;
                float* g = dy + ((nint)p * outH + oh) * outW;
                int* a = argmax + ((nint)p * outH + oh) * outW;
                int ow = 0;
                if (outW >= 4)
                {
                    // 4 outputs per step; the last outputs that do not fill 4 lanes come from one more step ending at the
                    // last output (modern-cnn's 12-wide second pool gives 6 per row), which rewrites a few columns with the
                    // same values.
                    int last = outW - 4;
                    for (; ; ow += 4)
                    {
                        if (ow > last) ow = last;
                        Vector256<float> d = Vector256<float>.Zero + Avx2.PermuteVar8x32(Vector128.Load(g + ow).ToVector256Unsafe(), pairs);
                        Vector256<int> at = Avx2.PermuteVar8x32(Vector128.Load(a + ow).ToVector256Unsafe(), pairs);
                        Vector256<int> index0 = Vector256.Create(rowBase + 2 * ow) + columns;
                        (Vector256.Equals(at, index0).AsSingle() & d).Store(r0 + 2 * ow);
                        (Vector256.Equals(at, index0 + Vector256.Create(width)).AsSingle() & d).Store(r1 + 2 * ow);
                        if (ow == last) break;
                    }
                    ow = outW;
                }
                for (; ow < outW; ow++)
                {
                    int i0 = rowBase + 2 * ow;
                    float d = 0f + g[ow];
                    int at = a[ow];
                    r0[2 * ow] = at == i0 ? d : 0f;
                    r0[2 * ow + 1] = at == i0 + 1 ? d : 0f;
                    r1[2 * ow] = at == i0 + width ? d : 0f;
                    r1[2 * ow + 1] = at == i0 + width + 1 ? d : 0f;
                }
                if (width > 2 * outW)
                {
                    r0[width - 1] = 0f;
                    r1[width - 1] = 0f;
                }
            }
            if (height > 2 * outH) new Span<float>(dx + ((nint)p * height + height - 1) * width, width).Clear();
        }
    }

    private sealed unsafe class PoolJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static PoolJob<T>? t_job;
        private bool _backward, _window2x2;
        private T* _y, _x;
        private int* _argmax;
        private int _planes, _height, _width, _kernelSize, _stride, _outH, _outW, _inPlane, _outPlane;

        public static PoolJob<T> ForThisThread => t_job ??= new PoolJob<T>();

        public void SetForward(T* y, int* argmax, T* x, int planes, int height, int width, int kernelSize, int stride, int outH, int outW)
        {
            _backward = _window2x2 = false;
            _y = y;
            _argmax = argmax;
            _x = x;
            (_planes, _height, _width, _kernelSize, _stride, _outH, _outW) = (planes, height, width, kernelSize, stride, outH, outW);
            (_inPlane, _outPlane) = (height * width, outH * outW);
        }

        /// <summary>Backward: <c>_x</c> is dx and <c>_y</c> is dy.</summary>
        public void SetBackward2x2(T* dx, T* dy, int* argmax, int planes, int height, int width)
        {
            SetBackward(dx, dy, argmax, planes, height * width, height / 2 * (width / 2));
            _window2x2 = true;
            (_height, _width) = (height, width);
        }

        public void SetBackward(T* dx, T* dy, int* argmax, int planes, int inPlane, int outPlane)
        {
            _window2x2 = false;
            _backward = true;
            _x = dx;
            _y = dy;
            _argmax = argmax;
            (_planes, _inPlane, _outPlane) = (planes, inPlane, outPlane);
        }

        public void Clear()
        {
            _x = null;
            _y = null;
            _argmax = null;
        }

        public override void Execute(int part, int parts)
        {
            (int first, int count) = KernelThreads.PartRange(_planes, part, parts, 1);
            if (count <= 0) return;
            if (_window2x2)
            {
                MaxPool2x2BackwardPlanes((float*)_x, (float*)_y, _argmax, first, count, _height, _width);
                return;
            }
            var argmax = new Span<int>(_argmax + (nint)first * _outPlane, count * _outPlane);
            if (_backward)
            {
                // Global indices into dx: this part clears and fills only its own planes.
                var dx = new Span<T>(_x, _planes * _inPlane);
                dx.Slice(first * _inPlane, count * _inPlane).Clear();
                var dy = new ReadOnlySpan<T>(_y + (nint)first * _outPlane, count * _outPlane);
                for (int i = 0; i < dy.Length; i++) dx[argmax[i]] += dy[i];
                return;
            }
            MaxPoolForwardPlanes(new Span<T>(_y + (nint)first * _outPlane, count * _outPlane), argmax,
                new ReadOnlySpan<T>(_x + (nint)first * _inPlane, count * _inPlane), count, _height, _width, _kernelSize, _stride, _outH, _outW);
            // The indices came out relative to this part's first plane.
            System.Numerics.Tensors.TensorPrimitives.Add(argmax, first * _inPlane, argmax);
        }
    }

    /// <summary>The forward pass on validated arguments, on the calling thread.</summary>
    private static void MaxPoolForwardPlanes<T>(Span<T> y, Span<int> argmax, ReadOnlySpan<T> x, int planes, int height, int width,
        int kernelSize, int stride, int outH, int outW)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && kernelSize == 2 && stride == 2)
        {
            MaxPool2x2Float(MemoryMarshal.Cast<T, float>(y), argmax, MemoryMarshal.Cast<T, float>(x), planes, height, width, outH, outW);
            return;
        }

        for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < outH; oh++)
        {
            int rowBase = (p * height + oh * stride) * width;
            int o = (p * outH + oh) * outW;
            for (int ow = 0; ow < outW; ow++)
            {
                int best = rowBase + ow * stride;
                T bestValue = x[best];
                for (int kh = 0; kh < kernelSize; kh++)
                {
                    ReadOnlySpan<T> window = x.Slice(rowBase + kh * width + ow * stride, kernelSize);
                    for (int kw = 0; kw < window.Length; kw++)
                        if (window[kw] > bestValue) { bestValue = window[kw]; best = rowBase + kh * width + ow * stride + kw; }
                }
                y[o + ow] = bestValue;
                argmax[o + ow] = best;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxPool2x2Float(Span<float> y, Span<int> argmax, ReadOnlySpan<float> x,
        int planes, int height, int width, int outH, int outW)
    {
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (int* pi = argmax)
        {
            for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < outH; oh++)
            {
                int rowBase = (p * height + oh * 2) * width;
                float* r0 = px + rowBase;
                float* r1 = r0 + width;
                float* yo = py + (p * outH + oh) * outW;
                int* io = pi + (p * outH + oh) * outW;
                int ow = 0;
                if (Avx512F.IsSupported)
                {
                    Vector512<int> evenIdx = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                    Vector512<int> oddIdx = evenIdx + Vector512<int>.One;
                    for (; ow <= outW - 16; ow += 16)
                    {
                        // Inputs 2·ow .. 2·ow+31 of each row; 2·ow+31 < W because ow+15 < OW = W/2 (floor).
                        Vector512<float> a0 = Vector512.Load(r0 + 2 * ow), a1 = Vector512.Load(r0 + 2 * ow + 16);
                        Vector512<float> b0 = Vector512.Load(r1 + 2 * ow), b1 = Vector512.Load(r1 + 2 * ow + 16);
                        Vector512<float> best = Avx512F.PermuteVar16x32x2(a0, evenIdx, a1);
                        Vector512<int> index = Vector512.Create(rowBase + 2 * ow) + evenIdx;
                        Vector512<float> v = Avx512F.PermuteVar16x32x2(a0, oddIdx, a1);
                        Vector512<float> gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), index + Vector512<int>.One, index);
                        Vector512<int> base1 = Vector512.Create(rowBase + width + 2 * ow) + evenIdx;
                        v = Avx512F.PermuteVar16x32x2(b0, evenIdx, b1);
                        gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), base1, index);
                        v = Avx512F.PermuteVar16x32x2(b0, oddIdx, b1);
                        gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), base1 + Vector512<int>.One, index);
                        best.Store(yo + ow);
                        index.Store(io + ow);
                    }
                    if (ow <= outW - 8)
                    {
                        // 8 outputs (LeNet's 24-wide planes give 12 per row): inputs 2·ow .. 2·ow+15 < W, one vector per
                        // row; the same selects on the lower 8 lanes, so ties and NaN behave as above.
                        Vector512<float> a = Vector512.Load(r0 + 2 * ow), b = Vector512.Load(r1 + 2 * ow);
                        Vector512<float> best = Avx512F.PermuteVar16x32(a, evenIdx);
                        Vector512<int> index = Vector512.Create(rowBase + 2 * ow) + evenIdx;
                        Vector512<float> v = Avx512F.PermuteVar16x32(a, oddIdx);
                        Vector512<float> gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), index + Vector512<int>.One, index);
                        Vector512<int> base1 = Vector512.Create(rowBase + width + 2 * ow) + evenIdx;
                        v = Avx512F.PermuteVar16x32(b, evenIdx);
                        gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), base1, index);
                        v = Avx512F.PermuteVar16x32(b, oddIdx);
                        gt = Vector512.GreaterThan(v, best);
                        best = Vector512.ConditionalSelect(gt, v, best);
                        index = Vector512.ConditionalSelect(gt.AsInt32(), base1 + Vector512<int>.One, index);
                        best.GetLower().Store(yo + ow);
                        index.GetLower().Store(io + ow);
                        ow += 8;
                    }
                }
                if (Avx2.IsSupported)
                {
                    // 8 outputs at a time without AVX-512: inputs 2·ow .. 2·ow+15 < W, two 256-bit vectors per row. A
                    // 128-bit-lane shuffle gathers the even and odd columns in the lane order (0 1 4 5 | 2 3 6 7) of the
                    // outputs; the selects run in that order and one cross-lane permute puts values and indices in place.
                    Vector256<int> even8 = Vector256.Create(0, 2, 8, 10, 4, 6, 12, 14), odd8 = even8 + Vector256<int>.One;
                    for (; ow <= outW - 8; ow += 8)
                    {
                        Vector256<float> a0 = Vector256.Load(r0 + 2 * ow), a1 = Vector256.Load(r0 + 2 * ow + 8);
                        Vector256<float> b0 = Vector256.Load(r1 + 2 * ow), b1 = Vector256.Load(r1 + 2 * ow + 8);
                        Vector256<float> best = Avx.Shuffle(a0, a1, 0b10_00_10_00);
                        Vector256<int> index = Vector256.Create(rowBase + 2 * ow) + even8;
                        Vector256<float> v = Avx.Shuffle(a0, a1, 0b11_01_11_01);
                        Vector256<float> gt = Vector256.GreaterThan(v, best);
                        best = Vector256.ConditionalSelect(gt, v, best);
                        index = Vector256.ConditionalSelect(gt.AsInt32(), index + Vector256<int>.One, index);
                        Vector256<int> base1 = Vector256.Create(rowBase + width + 2 * ow) + even8;
                        v = Avx.Shuffle(b0, b1, 0b10_00_10_00);
                        gt = Vector256.GreaterThan(v, best);
                        best = Vector256.ConditionalSelect(gt, v, best);
                        index = Vector256.ConditionalSelect(gt.AsInt32(), base1, index);
                        v = Avx.Shuffle(b0, b1, 0b11_01_11_01);
                        gt = Vector256.GreaterThan(v, best);
                        best = Vector256.ConditionalSelect(gt, v, best);
                        index = Vector256.ConditionalSelect(gt.AsInt32(), base1 + Vector256<int>.One, index);
                        Avx2.Permute4x64(best.AsDouble(), 0b11_01_10_00).AsSingle().Store(yo + ow);
                        Avx2.Permute4x64(index.AsInt64(), 0b11_01_10_00).AsInt32().Store(io + ow);
                    }
                }
                // A row whose last few outputs do not fill 4 lanes (modern-cnn's 6-wide second pool) takes them from one
                // more 4-output step ending at the last output: it recomputes a few outputs, the same values and indices.
                for (; Avx2.IsSupported && ow < outW && outW >= 4; ow += 4)
                {
                    ow = Math.Min(ow, outW - 4);
                    // 4 outputs at a time (LeNet's last 4 of 12 per row, its 8-wide second pool, and every row on machines
                    // without AVX-512): inputs 2·ow .. 2·ow+7 < W, one
                    // 256-bit vector per row, the same compare-and-select steps. Branch-free: the scalar loop below
                    // mispredicts on about every other comparison of real data, and these 4 outputs per row would
                    // then take most of the pooling time.
                    Vector256<int> even4 = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6), odd4 = even4 + Vector256<int>.One;
                    Vector256<float> a = Vector256.Load(r0 + 2 * ow), b = Vector256.Load(r1 + 2 * ow);
                    Vector256<float> best = Avx2.PermuteVar8x32(a, even4);
                    Vector256<int> index = Vector256.Create(rowBase + 2 * ow) + even4;
                    Vector256<float> v = Avx2.PermuteVar8x32(a, odd4);
                    Vector256<float> gt = Vector256.GreaterThan(v, best);
                    best = Vector256.ConditionalSelect(gt, v, best);
                    index = Vector256.ConditionalSelect(gt.AsInt32(), index + Vector256<int>.One, index);
                    Vector256<int> base1 = Vector256.Create(rowBase + width + 2 * ow) + even4;
                    v = Avx2.PermuteVar8x32(b, even4);
                    gt = Vector256.GreaterThan(v, best);
                    best = Vector256.ConditionalSelect(gt, v, best);
                    index = Vector256.ConditionalSelect(gt.AsInt32(), base1, index);
                    v = Avx2.PermuteVar8x32(b, odd4);
                    gt = Vector256.GreaterThan(v, best);
                    best = Vector256.ConditionalSelect(gt, v, best);
                    index = Vector256.ConditionalSelect(gt.AsInt32(), base1 + Vector256<int>.One, index);
                    best.GetLower().Store(yo + ow);
                    index.GetLower().Store(io + ow);
                }
                for (; ow < outW; ow++)
                {
                    int i0 = 2 * ow;
                    int best = rowBase + i0;
                    float bestValue = r0[i0];
                    if (r0[i0 + 1] > bestValue) { bestValue = r0[i0 + 1]; best = rowBase + i0 + 1; }
                    if (r1[i0] > bestValue) { bestValue = r1[i0]; best = rowBase + width + i0; }
                    if (r1[i0 + 1] > bestValue) { bestValue = r1[i0 + 1]; best = rowBase + width + i0 + 1; }
                    yo[ow] = bestValue;
                    io[ow] = best;
                }
            }
        }
    }
}
