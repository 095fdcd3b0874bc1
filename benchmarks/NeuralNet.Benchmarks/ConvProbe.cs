using System.Runtime.InteropServices;
using K = NeuralNet.Kernels.Cpu;
namespace NeuralNet.Benchmarks;

/// <summary>
/// <c>conv-probe</c>: the parts of modern-cnn's second and third convolutions at batch 128, one kernel thread, in thread
/// CPU ms per batch (so a busy neighbour does not count): im2col, the forward GEMM W·cols, the weight-gradient GEMM
/// dy·colsᵀ, the column-gradient GEMM Wᵀ·dy and col2im, image by image as the per-image path runs them; "batch cols"
/// writes each image's columns into the batch's column matrix as training does, "hot slot" reuses one image's slot.
/// </summary>
internal static class ConvProbe
{
    [StructLayout(LayoutKind.Sequential)] private struct TS { public long S, N; }
    [DllImport("libc", EntryPoint = "clock_gettime")] private static extern int Clock(int c, out TS t);
    private static double Now() { Clock(3, out TS t); return t.S * 1e3 + t.N / 1e6; }
    public static void Run(string[] args)
    {
        NeuralNetSettings.MaxDegreeOfParallelism = 1;
        foreach (bool hot in new[] { false, true })
        foreach (var (c, oc, hw, pad) in new[] { (24, 48, 12, 1), (48, 96, 6, 0) })
        {
            int kk = 3, o = hw + 2 * pad - kk + 1, sp = o * o, fan = c * kk * kk, n = 128;
            var rng = new RandomGenerator(1);
            float[] x = new float[n * c * hw * hw], w = new float[oc * fan], y = new float[n * oc * sp], cols = new float[n * fan * sp];
            float[] dW = new float[oc * fan], dcols = new float[fan * sp], dx = new float[x.Length];
            foreach (var a in new[] { x, w, y }) for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
            double[] t = new double[6];
            for (int rep = 0; rep < 12; rep++)
            {
                if (rep == 2) Array.Clear(t);
                for (int i = 0; i < n; i++)
                {
                    double t0 = Now();
                    var ci = cols.AsSpan((hot ? 0 : i) * fan * sp, fan * sp);
                    K.Im2Col<float>(ci, x.AsSpan(i * c * hw * hw, c * hw * hw), c, hw, hw, kk, kk, 1, pad, o, o);
                    double t1 = Now();
                    K.Gemm<float>(false, false, oc, sp, fan, w, fan, ci, sp, y.AsSpan(i * oc * sp, oc * sp), sp, false);
                    double t2 = Now();
                    K.Gemm<float>(false, true, oc, fan, sp, y.AsSpan(i * oc * sp, oc * sp), sp, ci, sp, dW, fan, true);
                    double t3 = Now();
                    K.Gemm<float>(true, false, fan, sp, oc, w, fan, y.AsSpan(i * oc * sp, oc * sp), sp, dcols, sp, false);
                    double t4 = Now();
                    var dxi = dx.AsSpan(i * c * hw * hw, c * hw * hw);
                    dxi.Clear();
                    K.Col2Im<float>(dxi, dcols, c, hw, hw, kk, kk, 1, pad, o, o);
                    double t5 = Now();
                    t[0] += t1 - t0; t[1] += t2 - t1; t[2] += t3 - t2; t[3] += t4 - t3; t[4] += t5 - t4;
                }
            }
            double r = 10;
            double macs = (double)n * oc * fan * sp;
            Console.WriteLine($"{(hot ? "hot slot" : "batch cols")} conv {c}->{oc} {hw}x{hw} pad {pad}, per batch of {n} (thread CPU ms): im2col {t[0] / r:F2}, fwd gemm {t[1] / r:F2} ({2 * macs / (t[1] / r) / 1e6:F1} GF/s), dW gemm {t[2] / r:F2} ({2 * macs / (t[2] / r) / 1e6:F1}), dcols gemm {t[3] / r:F2} ({2 * macs / (t[3] / r) / 1e6:F1}), col2im {t[4] / r:F2}");
        }
    }
}
