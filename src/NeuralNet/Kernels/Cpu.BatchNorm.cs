using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Kernels;

// Batch normalization over x laid out as (N, C, S): S = H·W for images (BatchNorm2d), S = 1 for features (BatchNorm1d).
// Statistics are per channel over the N·S values of that channel. Every channel is computed start to finish by one part,
// in the same order (planes n = 0, 1, … for S > 1; rows n = 0, 1, … for S = 1), so the result is the same bits for any
// thread count. The S > 1 path works plane by plane with TensorPrimitives (sums, dot products, scalar multiply-adds);
// the S = 1 path works row by row on a contiguous range of channels (vector accumulators over the row segment).
internal static partial class Cpu
{
    /// <summary>
    /// Reference training forward: per channel mean μ and biased variance σ² over N·S values, invStd = 1/√(σ² + ε),
    /// x̂ = (x − μ)·invStd, y = γ·x̂ + β (γ = 1, β = 0 when <paramref name="gamma"/> is empty).
    /// </summary>
    public static void BatchNormForwardTrainingNaive<T>(Span<T> y, Span<T> xhat, Span<T> mean, Span<T> variance, Span<T> invStd,
        ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, int n, int c, int s, T epsilon)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = T.CreateChecked(n * s);
        for (int ch = 0; ch < c; ch++)
        {
            T sum = T.Zero;
            for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++) sum += x[(i * c + ch) * s + k];
            T mu = sum / m;
            T sq = T.Zero;
            for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++)
            {
                T d = x[(i * c + ch) * s + k] - mu;
                sq += d * d;
            }
            T v = sq / m;
            T inv = T.One / T.Sqrt(v + epsilon);
            (mean[ch], variance[ch], invStd[ch]) = (mu, v, inv);
            T g = gamma.IsEmpty ? T.One : gamma[ch], b = beta.IsEmpty ? T.Zero : beta[ch];
            for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++)
            {
                int idx = (i * c + ch) * s + k;
                xhat[idx] = (x[idx] - mu) * inv;
                y[idx] = g * xhat[idx] + b;
            }
        }
    }

    /// <summary>
    /// Reference backward from the cached x̂ and invStd: dγ[c] += Σ dy·x̂, dβ[c] += Σ dy (skipped when the spans are empty),
    /// and dx = γ·invStd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) with M = N·S; when <paramref name="frozen"/> (statistics were
    /// constants, as in evaluation) dx = γ·invStd·dy.
    /// </summary>
    public static void BatchNormBackwardNaive<T>(Span<T> dx, Span<T> dgamma, Span<T> dbeta, ReadOnlySpan<T> dy, ReadOnlySpan<T> xhat,
        ReadOnlySpan<T> invStd, ReadOnlySpan<T> gamma, int n, int c, int s, bool frozen, bool computeInputGradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = T.CreateChecked(n * s);
        for (int ch = 0; ch < c; ch++)
        {
            T sdy = T.Zero, sdyx = T.Zero;
            for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++)
            {
                int idx = (i * c + ch) * s + k;
                sdy += dy[idx];
                sdyx += dy[idx] * xhat[idx];
            }
            if (!dgamma.IsEmpty) dgamma[ch] += sdyx;
            if (!dbeta.IsEmpty) dbeta[ch] += sdy;
            if (!computeInputGradient) continue;
            T k1 = (gamma.IsEmpty ? T.One : gamma[ch]) * invStd[ch];
            for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++)
            {
                int idx = (i * c + ch) * s + k;
                dx[idx] = frozen ? k1 * dy[idx] : k1 / m * (m * dy[idx] - sdy - xhat[idx] * sdyx);
            }
        }
    }

    /// <summary>The number of scratch elements <see cref="BatchNormBackward{T}"/> needs for <paramref name="channels"/> channels.</summary>
    public static int BatchNormScratchLength(int channels) => 5 * channels;

    /// <summary>
    /// Training forward, the same quantities as <see cref="BatchNormForwardTrainingNaive{T}"/> (to rounding: the sums run
    /// in vector order); large tensors are split over the kernel threads by whole channels.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short for (N, C, S), or N·S &lt; 1.</exception>
    public static unsafe void BatchNormForwardTraining<T>(Span<T> y, Span<T> xhat, Span<T> mean, Span<T> variance, Span<T> invStd,
        ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, int n, int c, int s, T epsilon)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBatchNorm(nameof(BatchNormForwardTraining), n, c, s, x.Length, y.Length, xhat.Length, mean.Length, variance.Length, invStd.Length);
        if (!gamma.IsEmpty && (gamma.Length < c || beta.Length < c))
            throw new ArgumentException($"{nameof(BatchNormForwardTraining)}: gamma ({gamma.Length}) and beta ({beta.Length}) need {c} elements.");
        fixed (T* py = y, ph = xhat, pm = mean, pv = variance, pi = invStd, px = x, pg = gamma, pb = beta)
        {
            var job = BatchNormJob<T>.ForThisThread;
            job.SetForward(py, ph, pm, pv, pi, px, gamma.IsEmpty ? null : pg, beta.IsEmpty ? null : pb, n, c, s, epsilon);
            RunBatchNorm(job, n, c, s);
        }
    }

    /// <summary>
    /// The number of scratch elements <see cref="BatchNormForwardTrainingWithoutXhat{T}"/>
    /// and <see cref="BatchNormBackwardFromInput{T}"/> need for planes of <paramref name="s"/> values: one plane per kernel thread.
    /// </summary>
    public static int BatchNormPlaneScratchLength(int s) => checked(NeuralNetSettings.MaxDegreeOfParallelism * s);

    /// <summary>
    /// Training forward that keeps no x̂ (S &gt; 1): the same mean, variance, invStd and y, bit for bit, as
    /// <see cref="BatchNormForwardTraining{T}"/>, whose x̂ costs a write of the whole tensor; <see cref="BatchNormBackwardFromInput{T}"/> recomputes x̂ from x
    /// with the same two roundings. <paramref name="planeScratch"/> holds <see cref="BatchNormPlaneScratchLength"/> elements.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short, S = 1, or N·S &lt; 1.</exception>
    public static unsafe void BatchNormForwardTrainingWithoutXhat<T>(Span<T> y, Span<T> mean, Span<T> variance, Span<T> invStd,
        ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> planeScratch, int n, int c, int s, T epsilon)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBatchNorm(nameof(BatchNormForwardTrainingWithoutXhat), n, c, s, x.Length, y.Length, y.Length, mean.Length, variance.Length, invStd.Length);
        CheckPlaneScratch(nameof(BatchNormForwardTrainingWithoutXhat), s, planeScratch.Length);
        if (!gamma.IsEmpty && (gamma.Length < c || beta.Length < c))
            throw new ArgumentException($"{nameof(BatchNormForwardTrainingWithoutXhat)}: gamma ({gamma.Length}) and beta ({beta.Length}) need {c} elements.");
        fixed (T* py = y, pm = mean, pv = variance, pi = invStd, px = x, pg = gamma, pb = beta, pp = planeScratch)
        {
            var job = BatchNormJob<T>.ForThisThread;
            job.SetForward(py, null, pm, pv, pi, px, gamma.IsEmpty ? null : pg, beta.IsEmpty ? null : pb, n, c, s, epsilon);
            job.SetPlaneScratch(pp);
            RunBatchNorm(job, n, c, s);
        }
    }

    /// <summary>
    /// Backward after <see cref="BatchNormForwardTrainingWithoutXhat{T}"/>
    /// (S &gt; 1, statistics of the batch): x̂ = (x − μ)·invStd is recomputed plane by plane from the forward input, the
    /// same bits as the x̂ <see cref="BatchNormForwardTraining{T}"/> keeps, so dγ, dβ and dx are the same bits as
    /// <see cref="BatchNormBackward{T}"/> given that x̂. <paramref name="scratch"/> holds <see cref="BatchNormScratchLength"/>
    /// elements and <paramref name="planeScratch"/> <see cref="BatchNormPlaneScratchLength"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short, or S = 1.</exception>
    public static unsafe void BatchNormBackwardFromInput<T>(Span<T> dx, Span<T> dgamma, Span<T> dbeta, ReadOnlySpan<T> dy, ReadOnlySpan<T> x,
        ReadOnlySpan<T> mean, ReadOnlySpan<T> invStd, ReadOnlySpan<T> gamma, Span<T> scratch, Span<T> planeScratch, int n, int c, int s,
        bool computeInputGradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBatchNorm(nameof(BatchNormBackwardFromInput), n, c, s, dy.Length, dx.Length, x.Length, invStd.Length, mean.Length, c);
        CheckPlaneScratch(nameof(BatchNormBackwardFromInput), s, planeScratch.Length);
        if (scratch.Length < BatchNormScratchLength(c) || (!dgamma.IsEmpty && dgamma.Length < c) || (!dbeta.IsEmpty && dbeta.Length < c)
            || (!gamma.IsEmpty && gamma.Length < c))
            throw new ArgumentException($"{nameof(BatchNormBackwardFromInput)}: scratch ({scratch.Length}) needs {BatchNormScratchLength(c)} elements and " +
                $"gamma ({gamma.Length}), dgamma ({dgamma.Length}), dbeta ({dbeta.Length}) {c} each (or none).");
        fixed (T* pdx = dx, pdg = dgamma, pdb = dbeta, pdy = dy, px = x, pm = mean, pi = invStd, pg = gamma, ps = scratch, pp = planeScratch)
        {
            var job = BatchNormJob<T>.ForThisThread;
            job.SetBackward(pdx, dgamma.IsEmpty ? null : pdg, dbeta.IsEmpty ? null : pdb, pdy, null, pi, gamma.IsEmpty ? null : pg, ps,
                n, c, s, frozen: false, computeInputGradient);
            job.SetInput(px, pm, pp);
            RunBatchNorm(job, n, c, s);
        }
    }

    private static void CheckPlaneScratch(string kernel, int s, int length)
    {
        if (s < 2 || length < BatchNormPlaneScratchLength(s))
            throw new ArgumentException($"{kernel}: needs planes of S ≥ 2 values (got {s}) and a plane scratch of " +
                $"{(long)NeuralNetSettings.MaxDegreeOfParallelism * s} elements (got {length}).");
    }

    /// <summary>
    /// Evaluation forward with per-channel constants: y = x·scale[c] + shift[c], and, when <paramref name="xhat"/> is not
    /// empty, x̂ = x·invStd[c] + negMeanInvStd[c] for a later backward pass.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public static void BatchNormForwardInference<T>(Span<T> y, Span<T> xhat, ReadOnlySpan<T> x, ReadOnlySpan<T> scale, ReadOnlySpan<T> shift,
        ReadOnlySpan<T> invStd, ReadOnlySpan<T> negMeanInvStd, int n, int c, int s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBatchNorm(nameof(BatchNormForwardInference), n, c, s, x.Length, y.Length, xhat.IsEmpty ? n * c * s : xhat.Length,
            scale.Length, shift.Length, c);
        if (s == 1)
        {
            for (int i = 0; i < n; i++)
            {
                var xr = x.Slice(i * c, c);
                TensorPrimitives.MultiplyAdd(xr, scale[..c], shift[..c], y.Slice(i * c, c));
                if (!xhat.IsEmpty) TensorPrimitives.MultiplyAdd(xr, invStd[..c], negMeanInvStd[..c], xhat.Slice(i * c, c));
            }
            return;
        }
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        {
            int o = (i * c + ch) * s;
            var xp = x.Slice(o, s);
            ScaleShift(xp, scale[ch], shift[ch], y.Slice(o, s));
            if (!xhat.IsEmpty) ScaleShift(xp, invStd[ch], negMeanInvStd[ch], xhat.Slice(o, s));
        }
    }

    /// <summary>
    /// Backward, the same quantities as <see cref="BatchNormBackwardNaive{T}"/> (to rounding); <paramref name="scratch"/>
    /// holds <see cref="BatchNormScratchLength"/> elements. Large tensors are split over the kernel threads by whole channels.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public static unsafe void BatchNormBackward<T>(Span<T> dx, Span<T> dgamma, Span<T> dbeta, ReadOnlySpan<T> dy, ReadOnlySpan<T> xhat,
        ReadOnlySpan<T> invStd, ReadOnlySpan<T> gamma, Span<T> scratch, int n, int c, int s, bool frozen, bool computeInputGradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBatchNorm(nameof(BatchNormBackward), n, c, s, dy.Length, dx.Length, xhat.Length, invStd.Length, c, c);
        if (scratch.Length < BatchNormScratchLength(c) || (!dgamma.IsEmpty && dgamma.Length < c) || (!dbeta.IsEmpty && dbeta.Length < c)
            || (!gamma.IsEmpty && gamma.Length < c))
            throw new ArgumentException($"{nameof(BatchNormBackward)}: scratch ({scratch.Length}) needs {BatchNormScratchLength(c)} elements and " +
                $"gamma ({gamma.Length}), dgamma ({dgamma.Length}), dbeta ({dbeta.Length}) {c} each (or none).");
        fixed (T* pdx = dx, pdg = dgamma, pdb = dbeta, pdy = dy, ph = xhat, pi = invStd, pg = gamma, ps = scratch)
        {
            var job = BatchNormJob<T>.ForThisThread;
            job.SetBackward(pdx, dgamma.IsEmpty ? null : pdg, dbeta.IsEmpty ? null : pdb, pdy, ph, pi, gamma.IsEmpty ? null : pg, ps,
                n, c, s, frozen, computeInputGradient);
            RunBatchNorm(job, n, c, s);
        }
    }

    /// <summary>d[i] = x[i]·a + b (multiply, then add: not fused), at the widest vector width, then a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ScaleShift<T>(ReadOnlySpan<T> x, T a, T b, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T pd = ref MemoryMarshal.GetReference(d);
        int n = x.Length, i = 0;
        if (d.Length < n) throw new ArgumentException($"ScaleShift: destination ({d.Length}) shorter than source ({n}).");
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> va = Vector512.Create(a), vb = Vector512.Create(b);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                (Vector512.LoadUnsafe(ref px, (nuint)i) * va + vb).StoreUnsafe(ref pd, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> va = Vector256.Create(a), vb = Vector256.Create(b);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * va + vb).StoreUnsafe(ref pd, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref pd, i) = Unsafe.Add(ref px, i) * a + b;
    }

    /// <summary>
    /// x̂[i] = h[i]·inv, then y[i] = x̂[i]·g + b (three roundings, no fused multiply-add): in one pass the same bits as
    /// <c>TensorPrimitives.Multiply(h, inv, h)</c> followed by <see cref="ScaleShift{T}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void NormalizeScaleShift<T>(Span<T> h, T inv, T g, T b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = h.Length, i = 0;
        if (y.Length < n) throw new ArgumentException($"NormalizeScaleShift: destination ({y.Length}) shorter than source ({n}).");
        ref T ph = ref MemoryMarshal.GetReference(h);
        ref T py = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> vi = Vector512.Create(inv), vg = Vector512.Create(g), vb = Vector512.Create(b);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> xh = Vector512.LoadUnsafe(ref ph, (nuint)i) * vi;
                xh.StoreUnsafe(ref ph, (nuint)i);
                (xh * vg + vb).StoreUnsafe(ref py, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> vi = Vector256.Create(inv), vg = Vector256.Create(g), vb = Vector256.Create(b);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> xh = Vector256.LoadUnsafe(ref ph, (nuint)i) * vi;
                xh.StoreUnsafe(ref ph, (nuint)i);
                (xh * vg + vb).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            T xh = Unsafe.Add(ref ph, i) * inv;
            Unsafe.Add(ref ph, i) = xh;
            Unsafe.Add(ref py, i) = xh * g + b;
        }
    }

    /// <summary>
    /// x̂[i] = (x[i] − μ)·inv (two roundings): the same bits as <c>TensorPrimitives.Subtract(x, μ, x̂)</c> followed by
    /// <c>TensorPrimitives.Multiply(x̂, inv, x̂)</c>, the x̂ of the training forward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CenterNormalize<T>(ReadOnlySpan<T> x, T mu, T inv, Span<T> xhat) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0;
        if (xhat.Length < n) throw new ArgumentException($"CenterNormalize: destination ({xhat.Length}) shorter than source ({n}).");
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T ph = ref MemoryMarshal.GetReference(xhat);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> vm = Vector512.Create(mu), vi = Vector512.Create(inv);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                ((Vector512.LoadUnsafe(ref px, (nuint)i) - vm) * vi).StoreUnsafe(ref ph, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> vm = Vector256.Create(mu), vi = Vector256.Create(inv);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                ((Vector256.LoadUnsafe(ref px, (nuint)i) - vm) * vi).StoreUnsafe(ref ph, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ph, i) = (Unsafe.Add(ref px, i) - mu) * inv;
    }

    /// <summary>
    /// y[i] = ((x[i] − μ)·inv)·g + b (four roundings, no fused multiply-add): the y of the training forward that keeps x̂,
    /// bit for bit, without writing x̂.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CenterNormalizeScaleShift<T>(ReadOnlySpan<T> x, T mu, T inv, T g, T b, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0;
        if (y.Length < n) throw new ArgumentException($"CenterNormalizeScaleShift: destination ({y.Length}) shorter than source ({n}).");
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T py = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> vm = Vector512.Create(mu), vi = Vector512.Create(inv), vg = Vector512.Create(g), vb = Vector512.Create(b);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                ((Vector512.LoadUnsafe(ref px, (nuint)i) - vm) * vi * vg + vb).StoreUnsafe(ref py, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> vm = Vector256.Create(mu), vi = Vector256.Create(inv), vg = Vector256.Create(g), vb = Vector256.Create(b);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                ((Vector256.LoadUnsafe(ref px, (nuint)i) - vm) * vi * vg + vb).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) = (Unsafe.Add(ref px, i) - mu) * inv * g + b;
    }

    /// <summary>
    /// dx[i] = dy[i]·k1 + (x̂[i]·a + b) (four roundings, no fused multiply-add): in one pass the same bits as
    /// <see cref="ScaleShift{T}"/>(x̂, a, b, dx) followed by <c>TensorPrimitives.MultiplyAdd(dy, k1, dx, dx)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BatchNormInputGradient<T>(ReadOnlySpan<T> xhat, ReadOnlySpan<T> dy, T a, T b, T k1, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = xhat.Length, i = 0;
        if (dy.Length < n || dx.Length < n)
            throw new ArgumentException($"BatchNormInputGradient: dy ({dy.Length}) and dx ({dx.Length}) need {n} elements.");
        ref T ph = ref MemoryMarshal.GetReference(xhat);
        ref T pdy = ref MemoryMarshal.GetReference(dy);
        ref T pdx = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> va = Vector512.Create(a), vb = Vector512.Create(b), vk = Vector512.Create(k1);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                (Vector512.LoadUnsafe(ref pdy, (nuint)i) * vk + (Vector512.LoadUnsafe(ref ph, (nuint)i) * va + vb)).StoreUnsafe(ref pdx, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> va = Vector256.Create(a), vb = Vector256.Create(b), vk = Vector256.Create(k1);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref pdy, (nuint)i) * vk + (Vector256.LoadUnsafe(ref ph, (nuint)i) * va + vb)).StoreUnsafe(ref pdx, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref pdx, i) = Unsafe.Add(ref pdy, i) * k1 + (Unsafe.Add(ref ph, i) * a + b);
    }

    /// <summary>
    /// dx[i] = dy[i]·k1 + ((((x[i] − μ)·inv)·a) + b) (six roundings, no fused multiply-add): <see cref="BatchNormInputGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, T, T, T, Span{T})"/>
    /// with x̂ = (x − μ)·inv recomputed in the same pass, the same bits as from the x̂ <see cref="CenterNormalize{T}"/> gives.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BatchNormInputGradient<T>(ReadOnlySpan<T> x, T mu, T inv, ReadOnlySpan<T> dy, T a, T b, T k1, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0;
        if (dy.Length < n || dx.Length < n)
            throw new ArgumentException($"BatchNormInputGradient: dy ({dy.Length}) and dx ({dx.Length}) need {n} elements.");
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T pdy = ref MemoryMarshal.GetReference(dy);
        ref T pdx = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Vector512<T> vm = Vector512.Create(mu), vi = Vector512.Create(inv), va = Vector512.Create(a), vb = Vector512.Create(b), vk = Vector512.Create(k1);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> xhat = (Vector512.LoadUnsafe(ref px, (nuint)i) - vm) * vi;
                (Vector512.LoadUnsafe(ref pdy, (nuint)i) * vk + (xhat * va + vb)).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            Vector256<T> vm = Vector256.Create(mu), vi = Vector256.Create(inv), va = Vector256.Create(a), vb = Vector256.Create(b), vk = Vector256.Create(k1);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> xhat = (Vector256.LoadUnsafe(ref px, (nuint)i) - vm) * vi;
                (Vector256.LoadUnsafe(ref pdy, (nuint)i) * vk + (xhat * va + vb)).StoreUnsafe(ref pdx, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            T xhat = (Unsafe.Add(ref px, i) - mu) * inv;
            Unsafe.Add(ref pdx, i) = Unsafe.Add(ref pdy, i) * k1 + (xhat * a + b);
        }
    }

    private static void CheckBatchNorm(string kernel, int n, int c, int s, int xLength, int yLength, int xhatLength, int a, int b, int d)
    {
        long total = (long)n * c * s;
        if (n < 1 || c < 1 || s < 1 || xLength < total || yLength < total || xhatLength < total || a < c || b < c || d < c)
            throw new ArgumentException($"{kernel}: (N, C, S) = ({n}, {c}, {s}) needs {total} elements per tensor and {c} per channel " +
                $"vector; got {xLength}, {yLength}, {xhatLength} and {a}, {b}, {d}.");
    }

    private static void RunBatchNorm<T>(BatchNormJob<T> job, int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Parts own whole channels; with S = 1 their ranges are whole 16-channel blocks so every row segment but the
        // last has the same vector/tail split whatever the part count (elementwise results do not depend on it anyway).
        int parts = KernelThreads.PartCount((int)Math.Min(int.MaxValue, (long)n * c * s), ElementwiseParallelMinLength,
            s == 1 ? (c + 15) / 16 : c);
        try
        {
            KernelThreads.Run(job, parts);
        }
        finally
        {
            job.Clear();
        }
    }

    private sealed unsafe class BatchNormJob<T> : ParallelJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static BatchNormJob<T>? t_job;
        private bool _backward, _frozen, _computeDx;
        private T* _y, _xhat, _mean, _var, _invStd, _x, _gamma, _beta, _scratch;
        private T* _planes;        // one plane of x̂ per part when x̂ is not kept (null otherwise)
        private T* _input, _inputMean;   // backward without a kept x̂: the forward input and its batch mean
        private int _n, _c, _s;
        private T _epsilon;

        public static BatchNormJob<T> ForThisThread => t_job ??= new BatchNormJob<T>();

        public void SetForward(T* y, T* xhat, T* mean, T* variance, T* invStd, T* x, T* gamma, T* beta, int n, int c, int s, T epsilon)
        {
            _backward = false;
            _y = y; _xhat = xhat; _mean = mean; _var = variance; _invStd = invStd; _x = x; _gamma = gamma; _beta = beta;
            (_n, _c, _s, _epsilon) = (n, c, s, epsilon);
        }

        /// <summary>Backward: <c>_y</c> is dx, <c>_x</c> is dy, <c>_mean</c> dγ, <c>_var</c> dβ.</summary>
        public void SetBackward(T* dx, T* dgamma, T* dbeta, T* dy, T* xhat, T* invStd, T* gamma, T* scratch, int n, int c, int s,
            bool frozen, bool computeDx)
        {
            _backward = true;
            _y = dx; _mean = dgamma; _var = dbeta; _x = dy; _xhat = xhat; _invStd = invStd; _gamma = gamma; _scratch = scratch;
            (_n, _c, _s, _frozen, _computeDx) = (n, c, s, frozen, computeDx);
        }

        public void SetPlaneScratch(T* planes) => _planes = planes;

        public void SetInput(T* x, T* mean, T* planes)
        {
            _input = x;
            _inputMean = mean;
            _planes = planes;
        }

        public void Clear()
        {
            _y = _xhat = _mean = _var = _invStd = _x = _gamma = _beta = _scratch = _planes = _input = _inputMean = null;
        }

        public override void Execute(int part, int parts)
        {
            (int first, int count) = KernelThreads.PartRange(_c, part, parts, _s == 1 ? 16 : 1);
            if (count <= 0) return;
            if (_s == 1)
            {
                if (_backward) BackwardRows(first, count);
                else ForwardRows(first, count);
                return;
            }
            // A part's plane of x̂ when x̂ is not kept; the parts of a call are numbered below the thread limit.
            Span<T> plane = _planes is null ? default : new Span<T>(_planes + (nint)part * _s, _s);
            for (int ch = first; ch < first + count; ch++)
            {
                if (_backward) BackwardChannel(ch, plane);
                else ForwardChannel(ch, plane);
            }
        }

        private ReadOnlySpan<T> Plane(T* p, int i, int ch) => new(p + ((nint)i * _c + ch) * _s, _s);

        private Span<T> PlaneW(T* p, int i, int ch) => new(p + ((nint)i * _c + ch) * _s, _s);

        private void ForwardChannel(int ch, Span<T> plane)
        {
            T m = T.CreateChecked((long)_n * _s);
            T sum = T.Zero;
            for (int i = 0; i < _n; i++) sum += TensorPrimitives.Sum(Plane(_x, i, ch));
            T mu = sum / m;
            T sq = T.Zero;
            for (int i = 0; i < _n; i++)
            {
                // x̂ holds x − μ for now: the squared deviations are summed from it while it is in L1.
                var h = _xhat is null ? plane : PlaneW(_xhat, i, ch);
                TensorPrimitives.Subtract(Plane(_x, i, ch), mu, h);
                sq += TensorPrimitives.SumOfSquares<T>(h);
            }
            T v = sq / m;
            T inv = T.One / T.Sqrt(v + _epsilon);
            (_mean[ch], _var[ch], _invStd[ch]) = (mu, v, inv);
            T g = _gamma is null ? T.One : _gamma[ch], b = _beta is null ? T.Zero : _beta[ch];
            if (_xhat is null)
            {
                for (int i = 0; i < _n; i++) CenterNormalizeScaleShift(Plane(_x, i, ch), mu, inv, g, b, PlaneW(_y, i, ch));
                return;
            }
            for (int i = 0; i < _n; i++) NormalizeScaleShift(PlaneW(_xhat, i, ch), inv, g, b, PlaneW(_y, i, ch));
        }

        /// <summary>Plane i of channel ch of x̂: the kept one, or recomputed from the forward input into <paramref name="plane"/>.</summary>
        private ReadOnlySpan<T> Xhat(int i, int ch, Span<T> plane)
        {
            if (_xhat is not null) return Plane(_xhat, i, ch);
            CenterNormalize(Plane(_input, i, ch), _inputMean[ch], _invStd[ch], plane);
            return plane;
        }

        private void BackwardChannel(int ch, Span<T> plane)
        {
            T m = T.CreateChecked((long)_n * _s);
            T sdy = T.Zero, sdyx = T.Zero;
            for (int i = 0; i < _n; i++)
            {
                var dyp = Plane(_x, i, ch);
                sdy += TensorPrimitives.Sum(dyp);
                sdyx += TensorPrimitives.Dot(dyp, Xhat(i, ch, plane));
            }
            if (_mean is not null) _mean[ch] += sdyx;
            if (_var is not null) _var[ch] += sdy;
            if (!_computeDx) return;
            T k1 = (_gamma is null ? T.One : _gamma[ch]) * _invStd[ch];
            for (int i = 0; i < _n; i++)
            {
                var dxp = PlaneW(_y, i, ch);
                if (_frozen)
                {
                    TensorPrimitives.Multiply(Plane(_x, i, ch), k1, dxp);
                    continue;
                }
                // dx = k1·dy − k1/M·Σdy − x̂·k1/M·Σ(dy·x̂)
                if (_xhat is null)
                    BatchNormInputGradient(Plane(_input, i, ch), _inputMean[ch], _invStd[ch], Plane(_x, i, ch), -k1 * sdyx / m, -k1 * sdy / m, k1, dxp);
                else
                    BatchNormInputGradient(Plane(_xhat, i, ch), Plane(_x, i, ch), -k1 * sdyx / m, -k1 * sdy / m, k1, dxp);
            }
        }

        private Span<T> Row(T* p, int i, int first, int count) => new(p + (nint)i * _c + first, count);

        private void ForwardRows(int first, int count)
        {
            T m = T.CreateChecked(_n);
            var mean = new Span<T>(_mean + first, count);
            var variance = new Span<T>(_var + first, count);
            var inv = new Span<T>(_invStd + first, count);
            mean.Clear();
            for (int i = 0; i < _n; i++) TensorPrimitives.Add(Row(_x, i, first, count), mean, mean);
            TensorPrimitives.Divide(mean, m, mean);
            variance.Clear();
            for (int i = 0; i < _n; i++)
            {
                var h = Row(_xhat, i, first, count);
                TensorPrimitives.Subtract(Row(_x, i, first, count), mean, h);
                TensorPrimitives.MultiplyAdd(h, h, variance, variance);
            }
            TensorPrimitives.Divide(variance, m, variance);
            TensorPrimitives.Add(variance, _epsilon, inv);
            TensorPrimitives.Sqrt(inv, inv);
            TensorPrimitives.Divide(T.One, inv, inv);
            for (int i = 0; i < _n; i++)
            {
                var h = Row(_xhat, i, first, count);
                TensorPrimitives.Multiply(h, inv, h);
                var y = Row(_y, i, first, count);
                if (_gamma is null) h.CopyTo(y);
                else TensorPrimitives.MultiplyAdd(h, new ReadOnlySpan<T>(_gamma + first, count), new ReadOnlySpan<T>(_beta + first, count), y);
            }
        }

        private void BackwardRows(int first, int count)
        {
            T m = T.CreateChecked(_n);
            var sdy = new Span<T>(_scratch + first, count);
            var sdyx = new Span<T>(_scratch + _c + first, count);
            var k1 = new Span<T>(_scratch + 2 * _c + first, count);
            var k2 = new Span<T>(_scratch + 3 * _c + first, count);
            var k3 = new Span<T>(_scratch + 4 * _c + first, count);
            sdy.Clear();
            sdyx.Clear();
            for (int i = 0; i < _n; i++)
            {
                var dy = Row(_x, i, first, count);
                TensorPrimitives.Add(dy, sdy, sdy);
                TensorPrimitives.MultiplyAdd(dy, Row(_xhat, i, first, count), sdyx, sdyx);
            }
            if (_mean is not null) TensorPrimitives.Add(new Span<T>(_mean + first, count), sdyx, new Span<T>(_mean + first, count));
            if (_var is not null) TensorPrimitives.Add(new Span<T>(_var + first, count), sdy, new Span<T>(_var + first, count));
            if (!_computeDx) return;
            var invStd = new ReadOnlySpan<T>(_invStd + first, count);
            if (_gamma is null) invStd.CopyTo(k1);
            else TensorPrimitives.Multiply(new ReadOnlySpan<T>(_gamma + first, count), invStd, k1);
            // k2 = −k1·Σ(dy·x̂)/M, k3 = −k1·Σdy/M
            TensorPrimitives.Multiply(k1, sdyx, k2);
            TensorPrimitives.Multiply(k2, -T.One / m, k2);
            TensorPrimitives.Multiply(k1, sdy, k3);
            TensorPrimitives.Multiply(k3, -T.One / m, k3);
            for (int i = 0; i < _n; i++)
            {
                var dx = Row(_y, i, first, count);
                var dy = Row(_x, i, first, count);
                if (_frozen)
                {
                    TensorPrimitives.Multiply(dy, k1, dx);
                    continue;
                }
                TensorPrimitives.MultiplyAdd(Row(_xhat, i, first, count), k2, k3, dx);
                TensorPrimitives.MultiplyAdd(dy, k1, dx, dx);
            }
        }
    }
}
