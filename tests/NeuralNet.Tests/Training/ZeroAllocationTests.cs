using System.Diagnostics;
using NeuralNet.Benchmarks;
using NeuralNet.Kernels;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Tests.Kernels;
using NeuralNet.Tests.Optimization;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

/// <summary>
/// After warm-up, a training step of each reference network (the same definitions as the step benchmarks) allocates no
/// managed memory on any thread, at one and two kernel threads; and so does the per-step path of <see cref="Trainer{T}"/>.
/// </summary>
/// <remarks>
/// <para>Three measures. Exact, must be 0: <see cref="GC.GetAllocatedBytesForCurrentThread"/> on the calling thread, and the
/// same counter read on every kernel worker thread by <see cref="KernelThreadProbe"/> (the library runs on no other thread).
/// Whole process, <see cref="GC.GetTotalAllocatedBytes(bool)"/> (precise): the test host itself allocates 168 B every
/// 20–60 ms on its own threads, so this is measured over single-step windows and the minimum must be 0.</para>
/// <para>The tests change <see cref="NeuralNetSettings.MaxDegreeOfParallelism"/>, hence the non-parallel collection.</para>
/// </remarks>
[Collection(KernelThreadSettingCollection.Name)]
public class ZeroAllocationTests
{
    private const int MeasuredSteps = 10;
    private const int WholeProcessWindows = 60;

    /// <summary>Every network whose batch holds more than one example (so an epoch can end with a smaller batch), at 1 and
    /// 2 threads.</summary>
    public static TheoryData<string, int> BatchedNetworksAndThreads()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in BenchmarkNetworks.Names)
        {
            if (BenchmarkNetworks.Create(name, 1).BatchSize == 1) continue;
            data.Add(name, 1);
            data.Add(name, 2);
        }
        return data;
    }

    /// <summary>Every network at 1 and 2 threads.</summary>
    public static TheoryData<string, int> NetworksAndThreads()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in BenchmarkNetworks.Names)
        {
            data.Add(name, 1);
            data.Add(name, 2);
        }
        return data;
    }

    [Theory]
    [InlineData("spark-mlp", 1000, 50_890)]
    [InlineData("mlp", 256, 50_890)]
    [InlineData("lenet", 64, 44_426)]
    [InlineData("small-cnn", 1, 27_342)]
    [InlineData("deep-mlp", 30, 356_885)]
    [InlineData("modern-cnn", 16, 250_930)]
    public void ReferenceNetworks_HaveTheReferenceShapes(string name, int batchSize, int parameterCount)
    {
        var net = BenchmarkNetworks.Create(name, batches: 1);
        net.BatchSize.Should().Be(batchSize);
        net.Model.Parameters.Sum(p => p.Value.Length).Should().Be(parameterCount);
        net.Model.OutputShape.Should().Equal(10);
        net.Inputs[0].Dim(0).Should().Be(batchSize);
        net.Labels[0].Should().HaveCount(batchSize).And.OnlyContain(l => l >= 0 && l < 10);
    }

    [Fact]
    public void ReferenceNetworks_UnknownName_ThrowsNamingTheChoices()
    {
        FluentActions.Invoking(() => BenchmarkNetworks.Create("resnet"))
            .Should().Throw<ArgumentException>().WithMessage("*'resnet'*spark-mlp, mlp, lenet, small-cnn, deep-mlp*");
    }

    [Theory]
    [MemberData(nameof(NetworksAndThreads))]
    public void TrainingStep_AllocatesNothingOnAnyThreadAfterWarmUp(string name, int threads)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            var net = BenchmarkNetworks.Create(name, batches: 2);
            var probe = new KernelThreadProbe(threads, slots: 2);
            long step = 0;
            float firstLoss = net.Step(step++);
            WarmUp(() => net.Step(step++));

            // Exact: the calling thread and every kernel worker, read on the threads themselves.
            long before = GC.GetAllocatedBytesForCurrentThread();
            probe.Capture(0);
            for (int i = 0; i < MeasuredSteps; i++) net.Step(step++);
            probe.Capture(1);
            long thisThread = GC.GetAllocatedBytesForCurrentThread() - before;

            // Whole process, one step per window: the test host allocates 168 B every 20-60 ms on its own threads, so a
            // window is retried until one is clean; a step that always allocates never gives a clean window.
            long bestWindow = long.MaxValue;
            for (int window = 0; window < WholeProcessWindows && bestWindow != 0; window++)
            {
                long start = GC.GetTotalAllocatedBytes(precise: true);
                net.Step(step++);
                bestWindow = Math.Min(bestWindow, GC.GetTotalAllocatedBytes(precise: true) - start);
            }
            float lastLoss = net.Step(step);

            thisThread.Should().Be(0, $"{MeasuredSteps} warm steps of {name} at {threads} thread(s) must not allocate on the calling thread");
            probe.Threads(0, 1).Should().Be(threads, "the probe must read the calling thread and every kernel worker");
            probe.Delta(0, 1).Should().Be(0,
                $"{MeasuredSteps} warm steps of {name} at {threads} thread(s) must not allocate on the kernel threads ({probe.Describe(0, 1)})");
            bestWindow.Should().Be(0, $"at least one of {WholeProcessWindows} single-step windows of {name} at {threads} thread(s) must allocate 0 B in the whole process");
            float.IsFinite(firstLoss).Should().BeTrue();
            float.IsFinite(lastLoss).Should().BeTrue();
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [MemberData(nameof(NetworksAndThreads))]
    public void TrainerFit_StepsInsideAnEpochAllocateNothingOnAnyThread(string name, int threads) =>
        AssertFitStepsAllocateNothing(name, threads, partialLastBatch: false);

    /// <summary>
    /// An epoch whose size is not a multiple of the batch size (60000 MNIST images in batches of 256) ends with a smaller
    /// batch, so every module switches between two batch sizes twice per epoch; after the first epoch the switch must
    /// find the buffers of the other size again rather than allocate them.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchedNetworksAndThreads))]
    public void TrainerFit_EpochWithAPartialLastBatch_AllocatesNothingInsideTheEpoch(string name, int threads) =>
        AssertFitStepsAllocateNothing(name, threads, partialLastBatch: true);

    private static void AssertFitStepsAllocateNothing(string name, int threads, bool partialLastBatch)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            const int batches = 6;
            var net = BenchmarkNetworks.Create(name, batches);
            var (inputs, labels) = Concatenate(net);
            if (partialLastBatch)
            {
                net.BatchSize.Should().BeGreaterThan(1, "a partial batch needs a batch size above 1");
                // Drop half of the last batch: the epoch ends with a batch of BatchSize - BatchSize / 2 examples.
                int keep = net.BatchSize * batches - net.BatchSize / 2;
                var shape = inputs.ShapeArray();
                int rowLength = inputs.Length / shape[0];
                shape[0] = keep;
                inputs = new NdArray<float>(inputs.AsSpan()[..(keep * rowLength)].ToArray(), shape);
                labels = labels[..keep];
            }
            var trainer = new Trainer<float>(net.Model, net.Loss, net.Optimizer, random: new RandomGenerator(3));
            var probe = new KernelThreadProbe(threads, slots: 2);
            var meter = new AllocationMeter(probe, capacity: 2 * batches);
            trainer.Callbacks.Add(meter);
            // The image network also trains with augmentation, which warps every batch on the kernel threads.
            var options = new TrainerOptions
            {
                Epochs = 2, BatchSize = net.BatchSize,
                Augmentation = name == "modern-cnn" ? new NeuralNet.Data.ImageAugmentation() : null,
            };
            trainer.Fit(inputs, labels, options); // warm-up: every buffer, and the JIT's first tiers

            // A window between two consecutive OnIterationEnd calls of the same epoch covers the batch gather, the whole step
            // (forward, finiteness check, loss, accuracy, backward, Sgd.Step), the iteration record and the history append.
            // Epoch boundaries (shuffle, epoch record, schedule, callbacks' OnEpochEnd) are not asserted.
            long bestWholeProcess = long.MaxValue;
            int fits = 0;
            do
            {
                meter.Reset();
                trainer.Fit(inputs, labels, options);
                fits++;
                meter.Windows.Should().Be(2 * (batches - 1), "every step after the first of each epoch is measured");
                meter.ThisThread.Should().OnlyContain(b => b == 0,
                    $"a Trainer step of {name} at {threads} thread(s) must not allocate on the calling thread");
                meter.KernelThreads.Should().OnlyContain(b => b == 0,
                    $"a Trainer step of {name} at {threads} thread(s) must not allocate on the kernel threads");
                meter.ThreadsSeen.Should().OnlyContain(t => t == threads, "the probe must read the calling thread and every kernel worker");
                bestWholeProcess = Math.Min(bestWholeProcess, meter.WholeProcess.Min());
            }
            while (bestWholeProcess != 0 && fits < 3);
            bestWholeProcess.Should().Be(0,
                $"at least one step window of {name} at {threads} thread(s) must allocate 0 B in the whole process (the test host allocates on its own)");
            trainer.History.Epochs.Should().HaveCount(2 + 2 * fits);
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TrainerFit_OnFloatTargets_StepsInsideAnEpochAllocateNothing(int threads)
    {
        // Regression: (N, 2) float targets through MseLoss, with the per-step MSE/MAE/R² accumulation.
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            const int batches = 6, batchSize = 64;
            var r = new RandomGenerator(5);
            var model = new NeuralNet.Modules.Sequential<float>([16], new NeuralNet.Modules.Dense<float>(16, 64, random: r),
                new NeuralNet.Modules.Activations.Tanh<float>(), new NeuralNet.Modules.Dense<float>(64, 2, random: r));
            var inputs = new NdArray<float>(batches * batchSize, 16);
            var targets = new NdArray<float>(batches * batchSize, 2);
            for (int i = 0; i < inputs.Length; i++) inputs.Data[i] = (float)r.NextDouble();
            for (int i = 0; i < targets.Length; i++) targets.Data[i] = (float)r.NextDouble();
            var trainer = new Trainer<float>(model, new NeuralNet.Losses.MseLoss<float>(), new NeuralNet.Optimization.Sgd<float>(model, 0.01, 0.9),
                random: new RandomGenerator(3));
            var probe = new KernelThreadProbe(threads, slots: 2);
            var meter = new AllocationMeter(probe, capacity: 2 * batches);
            trainer.Callbacks.Add(meter);
            var options = new TrainerOptions { Epochs = 2, BatchSize = batchSize };
            trainer.Fit(inputs, targets, options); // warm-up
            long bestWholeProcess = long.MaxValue;
            int fits = 0;
            do
            {
                meter.Reset();
                trainer.Fit(inputs, targets, options);
                fits++;
                meter.Windows.Should().Be(2 * (batches - 1));
                meter.ThisThread.Should().OnlyContain(b => b == 0, $"a Trainer step on float targets at {threads} thread(s) must not allocate on the calling thread");
                meter.KernelThreads.Should().OnlyContain(b => b == 0, $"a Trainer step on float targets at {threads} thread(s) must not allocate on the kernel threads");
                bestWholeProcess = Math.Min(bestWholeProcess, meter.WholeProcess.Min());
            }
            while (bestWholeProcess != 0 && fits < 3);
            bestWholeProcess.Should().Be(0, "at least one step window must allocate 0 B in the whole process");
            trainer.History.Last.TrainingRegression.Should().NotBeNull();
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>Every optimizer kind of <see cref="OptimizerTests.Kinds"/> at 1 and 2 threads.</summary>
    public static TheoryData<string, int> OptimizersAndThreads()
    {
        var data = new TheoryData<string, int>();
        foreach (var kind in OptimizerTests.Kinds())
        {
            data.Add(kind, 1);
            data.Add(kind, 2);
        }
        return data;
    }

    /// <summary>Clipping by value and norm, the optimizer step (parameters large enough to be split over the threads) and a
    /// composed schedule's step allocate nothing on the calling thread or the kernel threads.</summary>
    [Theory]
    [MemberData(nameof(OptimizersAndThreads))]
    public void OptimizerStep_WithClippingAndSchedule_AllocatesNothingOnAnyThread(string kind, int threads)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            var random = new RandomGenerator(21);
            var parameters = new[] { 120_000, 400, 70_001 }.Select((n, i) =>
            {
                var p = new Parameter<float>("p" + i, new NdArray<float>(n));
                for (int k = 0; k < n; k++) p.Gradient.Data[k] = (float)(random.NextDouble() - 0.5);
                return p;
            }).ToArray();
            var optimizer = OptimizerTests.Make(kind, parameters);
            var schedule = new LinearWarmupSchedule(new CosineAnnealingWarmRestartsSchedule(optimizer, 50, 2), warmupSteps: 10);
            void Step()
            {
                GradientClipping.ClipByValue(parameters, 0.4);
                GradientClipping.ClipByNorm(parameters, 1.0);
                optimizer.Step();
                schedule.Step();
            }
            var probe = new KernelThreadProbe(threads, slots: 2);
            WarmUp(Step);

            long before = GC.GetAllocatedBytesForCurrentThread();
            probe.Capture(0);
            for (int i = 0; i < MeasuredSteps; i++) Step();
            probe.Capture(1);
            long thisThread = GC.GetAllocatedBytesForCurrentThread() - before;

            thisThread.Should().Be(0, $"{MeasuredSteps} warm {kind} steps at {threads} thread(s) must not allocate on the calling thread");
            probe.Threads(0, 1).Should().Be(threads, "the probe must read the calling thread and every kernel worker");
            probe.Delta(0, 1).Should().Be(0, $"{MeasuredSteps} warm {kind} steps at {threads} thread(s) must not allocate on the kernel threads ({probe.Describe(0, 1)})");
            parameters.SelectMany(p => p.Value.Data).Should().OnlyContain(v => float.IsFinite(v));
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>Steps at least 8 times and for at least 0.25 s, so the JIT has promoted the hot methods to their final tier.</summary>
    private static void WarmUp(Action step)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 200 && (i < 8 || clock.ElapsedMilliseconds < 250); i++) step();
    }

    private static (NdArray<float> Inputs, int[] Labels) Concatenate(ReferenceNetwork net)
    {
        var shape = net.Inputs[0].ShapeArray();
        shape[0] = net.BatchSize * net.BatchCount;
        var inputs = new NdArray<float>(shape);
        var labels = new int[shape[0]];
        int rowLength = net.Inputs[0].Length;
        for (int b = 0; b < net.BatchCount; b++)
        {
            net.Inputs[b].AsSpan().CopyTo(inputs.AsSpan().Slice(b * rowLength));
            net.Labels[b].CopyTo(labels, b * net.BatchSize);
        }
        return (inputs, labels);
    }

    /// <summary>Allocations between consecutive iterations of the same epoch: calling thread, kernel threads, whole process.</summary>
    private sealed class AllocationMeter(KernelThreadProbe probe, int capacity) : TrainingCallback<float>
    {
        private long _lastThread, _lastTotal;
        private int _lastEpoch = -1, _slot;
        private readonly long[] _thisThread = new long[capacity];
        private readonly long[] _kernelThreads = new long[capacity];
        private readonly int[] _threadsSeen = new int[capacity];
        private readonly long[] _wholeProcess = new long[capacity];

        public int Windows { get; private set; }

        public long[] ThisThread => _thisThread[..Windows];

        public long[] KernelThreads => _kernelThreads[..Windows];

        public int[] ThreadsSeen => _threadsSeen[..Windows];

        public long[] WholeProcess => _wholeProcess[..Windows];

        public void Reset()
        {
            Windows = 0;
            _lastEpoch = -1;
        }

        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord record)
        {
            long total = GC.GetTotalAllocatedBytes(precise: true);
            long thread = GC.GetAllocatedBytesForCurrentThread();
            int slot = 1 - _slot;
            probe.Capture(slot);
            if (_lastEpoch == record.Epoch && Windows < _thisThread.Length)
            {
                _thisThread[Windows] = thread - _lastThread;
                _wholeProcess[Windows] = total - _lastTotal;
                _kernelThreads[Windows] = probe.Delta(_slot, slot);
                _threadsSeen[Windows] = probe.Threads(_slot, slot);
                Windows++;
            }
            _lastEpoch = record.Epoch;
            _slot = slot;
            // Read last, so neither the meter nor the probe is charged to the next step.
            _lastThread = GC.GetAllocatedBytesForCurrentThread();
            probe.Capture(_slot);
            _lastTotal = GC.GetTotalAllocatedBytes(precise: true);
        }
    }

    /// <summary>
    /// Reads <see cref="GC.GetAllocatedBytesForCurrentThread"/> on the calling thread and on every kernel worker, by running a
    /// parallel job whose parts wait for each other, so each part runs on a different thread of the kernels' pool.
    /// </summary>
    /// <remarks>
    /// The library runs code on no thread but the caller and these workers, so the per-thread differences between two
    /// captures are exactly what the library allocated in between, whatever the test host does on its own threads.
    /// A capture allocates nothing (the slots are preallocated).
    /// </remarks>
    private sealed class KernelThreadProbe : ParallelJob
    {
        private readonly int _parts;
        private readonly int[][] _threadIds;
        private readonly long[][] _bytes;
        private int _slot, _started;

        public KernelThreadProbe(int parts, int slots)
        {
            _parts = parts;
            _threadIds = new int[slots][];
            _bytes = new long[slots][];
            for (int s = 0; s < slots; s++)
            {
                _threadIds[s] = new int[parts];
                _bytes[s] = new long[parts];
            }
        }

        public void Capture(int slot)
        {
            _slot = slot;
            _started = 0;
            KernelThreads.Run(this, _parts);
        }

        public override void Execute(int part, int parts)
        {
            Interlocked.Increment(ref _started);
            long deadline = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
            while (Volatile.Read(ref _started) < parts && Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(16);
            _threadIds[_slot][part] = Environment.CurrentManagedThreadId;
            _bytes[_slot][part] = GC.GetAllocatedBytesForCurrentThread();
        }

        /// <summary>The number of distinct threads read in both captures.</summary>
        public int Threads(int from, int to)
        {
            int count = 0;
            for (int i = 0; i < _parts; i++)
            {
                bool distinct = Array.IndexOf(_threadIds[from], _threadIds[from][i]) == i;
                if (distinct && Array.IndexOf(_threadIds[to], _threadIds[from][i]) >= 0) count++;
            }
            return count;
        }

        /// <summary>Bytes allocated between two captures, summed over the threads read in both.</summary>
        public long Delta(int from, int to)
        {
            long sum = 0;
            for (int i = 0; i < _parts; i++)
            {
                int j = Array.IndexOf(_threadIds[to], _threadIds[from][i]);
                if (j >= 0 && Array.IndexOf(_threadIds[from], _threadIds[from][i]) == i) sum += _bytes[to][j] - _bytes[from][i];
            }
            return sum;
        }

        public string Describe(int from, int to) => string.Join(", ", Enumerable.Range(0, _parts).Select(i =>
        {
            int j = Array.IndexOf(_threadIds[to], _threadIds[from][i]);
            string bytes = j >= 0 ? $"{_bytes[to][j] - _bytes[from][i]} B" : "not read twice";
            string who = _threadIds[from][i] == Environment.CurrentManagedThreadId ? "caller" : "worker";
            return $"thread {_threadIds[from][i]} ({who}): {bytes}";
        }));
    }
}
