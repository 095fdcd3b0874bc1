using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MnistSample.ConsoleUi;
using MnistSample.Output;
using MnistSample.Report;
using NeuralNet;
using NeuralNet.Data;
using NeuralNet.Distributed;
using NeuralNet.Evaluation;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Serialization;
using NeuralNet.Training;
using Spectre.Console;

namespace MnistSample;

/// <summary>One training run: loads the data, builds the preset's network, trains, evaluates and writes the outputs.</summary>
/// <remarks>Ctrl-C (or <paramref name="cancellation"/>) stops training before the next step: the run prints how to
/// resume from the last checkpoint and returns <see cref="Interrupted"/>.</remarks>
public sealed class MnistRun(RunSettings settings, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellation = default)
{
    /// <summary>Exit code of a run stopped by Ctrl-C: 128 + SIGINT, as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>Misclassified digits shown in the report.</summary>
    public const int GallerySize = 48;

    /// <summary>Test predictions written to predictions.csv.</summary>
    public const int PredictionSampleSize = 1000;

    private readonly TextWriter _out = output ?? Console.Out;
    private readonly TextWriter _err = error ?? Console.Error;

    /// <summary>The summary of the finished run (null until <see cref="Execute"/> succeeded).</summary>
    public RunSummary? Summary { get; private set; }

    /// <summary>Runs; returns the process exit code (0 success, 1 bad data or I/O, 3 training diverged, 130 interrupted).</summary>
    public int Execute()
    {
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        // Stop at the next step instead of killing the process, so the checkpoint on disk stays whole and the terminal
        // gets its cursor back. A POSIX signal registration rather than Console.CancelKeyPress: subscribing to that event
        // initializes the terminal, which writes its keypad escape codes ahead of a --json line.
        // Under --distributed a rank that gets the signal stops every rank at the same step (the trainer agrees on it).
        using var onCtrlC = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            interrupt.Cancel();
        });
        _interrupt = interrupt.Token;
        try
        {
            CheckOutputWritable(settings.OutputDirectory);
            if (settings.Distributed)
            {
                // Checked before MPI starts: an exception inside MpiCommunicator.Run aborts the whole job.
                if (!MpiCommunicator.IsAvailable(out string? reason))
                    throw new IOException($"--distributed needs Open MPI (libmpi.so.40, Debian package openmpi-bin): {reason}");
                return MpiCommunicator.Run(world =>
                {
                    // A rank that hangs (rather than fails) would block the others forever. The library's default (60 s,
                    // or NEURALNET_COLLECTIVE_TIMEOUT) is far more than any step, evaluation or checkpoint of these presets
                    // takes; --collective-timeout overrides both.
                    if (settings.CollectiveTimeout is { } timeout) world.CollectiveTimeout = timeout;
                    // Before the data are loaded, so that a rank started with other settings, or a checkpoint rank 0
                    // cannot read, stops every rank at once with the same message instead of training or deadlocking.
                    if (DistributedChecks.Agree(world, settings) is { } problem)
                    {
                        return Error(problem, 1);
                    }
                    // Every rank reaches the same outcome (the trainer reduces divergence and cancellation across ranks), so
                    // each returns its exit code instead of aborting the job.
                    try
                    {
                        Summary = Train(world);
                        return 0;
                    }
                    // Errors every rank meets alike (settings, checkpoint bytes rank 0 sent, divergence, cancellation). Any other
                    // failure propagates, and MpiCommunicator.Run aborts the whole job at once.
                    catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or ConfigurationMismatchException)
                    {
                        return Error(e.Message, 1);
                    }
                    catch (TrainingDivergedException e)
                    {
                        return Error(e.Message, 3);
                    }
                    catch (OperationCanceledException)
                    {
                        if (world.IsRoot) ReportInterrupted();
                        return Interrupted;
                    }
                });
            }

            Summary = Train();
            return 0;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Error(e.Message, 1);
        }
        catch (TrainingDivergedException e)
        {
            return Error(e.Message, 3);
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            ReportInterrupted();
            return Interrupted;
        }
    }

    /// <summary>Prints <c>mnist: error: message</c> on one line and returns <paramref name="exitCode"/>.</summary>
    private int Error(string message, int exitCode)
    {
        _err.WriteLine($"mnist: error: {message.ReplaceLineEndings(" ")}");
        return exitCode;
    }

    private void ReportInterrupted()
    {
        string checkpoint = Path.Combine(settings.OutputDirectory, OutputWriter.Files.Checkpoint);
        _err.WriteLine(File.Exists(checkpoint)
            ? $"mnist: interrupted. Resume with the same options and --resume {checkpoint}"
            : "mnist: interrupted before the first epoch ended; no checkpoint was written, so there is nothing to resume.");
    }

    private CancellationToken _interrupt;

    /// <summary>
    /// Fails at once, before the data are loaded, when no file can be created in the output directory (created when
    /// missing): otherwise a read-only directory shows only when the first checkpoint is written, after an epoch.
    /// </summary>
    /// <remarks>The probe creates and deletes a file rather than reading permission bits, which do not stop root.</remarks>
    public static void CheckOutputWritable(string directory)
    {
        string probe = Path.Combine(directory, $".write-check.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the output directory '{directory}' is not writable: {e.Message}", e);
        }
    }

    private TrainingView CreateView()
    {
        if (settings.Json) return new SilentView();
        bool interactive = !settings.Plain && ReferenceEquals(_out, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        return interactive ? new LiveView(AnsiConsole.Console) : new PlainView(_out);
    }

    /// <summary>
    /// Trains in this process, or with <paramref name="world"/> (<c>mpirun -np N … --distributed</c>) as one of N data-parallel
    /// ranks of the same <see cref="Trainer{T}"/>: --batch-size stays the global batch (each rank trains on batch/N examples of
    /// it), so the same command trains the same model on any number of ranks, to float rounding. Every rank loads the data and
    /// builds the network; rank 0 prints, writes the checkpoints and the outputs; the other ranks return null.
    /// </summary>
    private RunSummary? Train(Communicator? world = null)
    {
        var p = settings.Effective;
        int ranks = world?.Size ?? 1;
        bool root = world?.IsRoot ?? true;
        NeuralNetSettings.MaxDegreeOfParallelism = settings.Threads > 0 ? settings.Threads
            : world is null ? Environment.ProcessorCount : MpiCommunicator.SuggestedThreadsPerRank;
        if (p.BatchSize % ranks != 0)
            throw new ArgumentException($"--batch-size {p.BatchSize} (the global batch) is not a multiple of the {ranks} ranks; give a multiple of {ranks}.");
        var view = root ? CreateView() : new SilentView();

        var options = new TrainerOptions
        {
            Epochs = p.Epochs,
            BatchSize = p.BatchSize / ranks,
            SampleFraction = p.SampleFraction,
            RecordIterations = true,
            ScheduleMonitor = TrainingMetric.TrainingLoss,
            Augmentation = p.Augment ? new ImageAugmentation() : null,
        };
        var (train, validation, test, random, model, loss, sgd) = Prepare(p, view, options, ranks);
        var trainer = new Trainer<float>(model, loss, sgd, random)
        {
            Strategy = world is null ? TrainingStrategy<float>.SingleProcess
                : new DataParallelStrategy<float>(world, new DataParallelOptions { Description = p.Name }),
        };

        int sampleCount = options.SamplesPerEpoch(train.Count);
        int batchSize = Math.Min(p.BatchSize, sampleCount);
        options = options with { ProgressEveryIterations = Math.Max(1, options.BatchesPerEpoch(train.Count, ranks) / 200) };

        string batchText = ranks == 1 ? $"batch {batchSize}" : $"{ranks} ranks × batch {p.BatchSize / ranks} = global batch {batchSize}";
        view.Message(string.Create(CultureInfo.InvariantCulture,
            $"{p.Name}: {ModelFactory.Describe(model)}; {train.Count:N0} training, {validation?.Count ?? 0:N0} validation, {test.Count:N0} test images; {RunSummary.Plural(p.Epochs, "epoch")} of {sampleCount:N0} samples, {batchText}"));
        view.Message(model.Summary().ToString()); // not in --json mode: the silent view keeps the output pure JSON

        if (root) Directory.CreateDirectory(settings.OutputDirectory);
        // First among the callbacks, before the restore: the checkpoint keeps the settings at this position and a resumed
        // run with other settings is refused, naming them.
        trainer.Callbacks.Add(new RunSettingsCallback(settings, train.Count, validation?.Count ?? 0));
        int resumedAfter = 0;
        if (settings.Resume is { } resume)
        {
            // Under --distributed rank 0 alone needs the file (DistributedChecks checked it); Restore sends its bytes to every rank.
            if (world is null && !File.Exists(resume)) throw new IOException($"Checkpoint '{resume}' does not exist.");
            // Restore checks that the checkpoint fits this network, optimizer and schedule, and changes nothing when it does not.
            TrainingCheckpoint.Restore(trainer, resume);
            resumedAfter = trainer.Epoch;
            view.Message($"Resumed from {resume} after epoch {resumedAfter} of {p.Epochs}");
        }

        var timer = new EpochTimer(view, p.Epochs, sampleCount, batchSize);
        timer.Prefill(trainer.History, sampleCount);
        trainer.Callbacks.Add(timer);
        trainer.Callbacks.Add(new CheckpointCallback<float>(Path.Combine(settings.OutputDirectory, OutputWriter.Files.Checkpoint)));
        if (settings.TargetAccuracy is { } target) trainer.Callbacks.Add(new TargetAccuracy(view, timer, test, target));
        trainer.Callbacks.Add(timer.NextEpochClock);
        int remaining = p.Epochs - trainer.Epoch;
        if (remaining > 0)
            view.Run(() => trainer.Fit(train.Features, train.Labels, options with { Epochs = remaining }, validation?.Features, validation?.Labels, timer, _interrupt));
        if (!root) return null;

        ModelSerializer.Save(model, Path.Combine(settings.OutputDirectory, OutputWriter.Files.Model), new Dictionary<string, string>
        {
            ["preset"] = p.Name,
            ["epochs"] = trainer.Epoch.ToString(CultureInfo.InvariantCulture),
            ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
            ["output"] = ModelFactory.Output(p).ToString(),
        });

        var (summary, _) = Evaluate(p, model, trainer, timer.Epochs, train.Count, validation?.Count ?? 0, test);
        summary = summary with { ResumedFromEpoch = resumedAfter };
        if (world is not null)
            summary = summary with { Settings = [.. summary.Settings, new("ranks", ranks.ToString(CultureInfo.InvariantCulture)), new("batch per rank", (p.BatchSize / ranks).ToString(CultureInfo.InvariantCulture))] };
        OutputWriter.WriteAll(settings.OutputDirectory, summary, report: !settings.NoReport);
        if (settings.Json) _out.WriteLine(OutputWriter.SummaryLine(summary));
        else view.Results(summary, settings.OutputDirectory);
        return summary;
    }

    /// <summary>
    /// What single-process and distributed training share: the data (as images for the CNN presets), the seeded generator,
    /// the network, its loss, and the optimizer with its schedule attached (the iteration schedules span the run's
    /// optimizer steps, which the trainer's options count: <see cref="TrainerOptions.BatchesPerEpoch"/>).
    /// </summary>
    private (Dataset Train, Dataset? Validation, Dataset Test, RandomGenerator Random, Sequential<float> Model, NeuralNet.Losses.Loss<float> Loss,
        Sgd<float> Sgd) Prepare(Preset p, TrainingView view, TrainerOptions options, int ranks)
    {
        var (train, validation, test) = LoadData(p, view);
        if (p.Architecture != Architecture.Mlp)
        {
            train = train.Reshape(1, 28, 28);
            validation = validation?.Reshape(1, 28, 28);
            test = test.Reshape(1, 28, 28);
        }

        var random = new RandomGenerator(settings.Seed);
        var model = ModelFactory.Build(p, random);
        var sgd = new Sgd<float>(model, p.LearningRate, p.Momentum, p.WeightDecay);
        CreateSchedule(p, sgd, options.BatchesPerEpoch(train.Count, ranks));
        return (train, validation, test, random, model, ModelFactory.Loss(p), sgd);
    }

    private static LearningRateSchedule CreateSchedule(Preset p, Optimizer optimizer, int batchesPerEpoch) => p.Schedule switch
    {
        ScheduleKind.Step => new StepDecaySchedule(optimizer, p.Decay, p.StepSize),
        ScheduleKind.BoldDriver => new BoldDriverSchedule(optimizer, p.BoldIncrease, p.BoldDecrease),
        // Both span the whole run (--epochs), stepped after every batch: the run's length is part of the schedule.
        ScheduleKind.OneCycle => new OneCycleSchedule(optimizer, Math.Max(2L, (long)p.Epochs * batchesPerEpoch), pctStart: p.WarmupFraction,
            cycleMomentum: p.Momentum > 0) { Interval = ScheduleInterval.Iteration },
        ScheduleKind.Cosine => new CosineAnnealingSchedule(optimizer, Math.Max(1L, (long)p.Epochs * batchesPerEpoch)) { Interval = ScheduleInterval.Iteration },
        _ => new ConstantSchedule(optimizer),
    };

    /// <summary>
    /// --target-accuracy: after every epoch, evaluates the test set (evaluation mode: no dropout, running statistics, no
    /// random draws, so training continues with the same bits) and stops training at the end of the first epoch at or above
    /// the target, printing the training seconds so far (the epochs' own times, without these evaluations).
    /// </summary>
    private sealed class TargetAccuracy(TrainingView view, EpochTimer timer, Dataset test, double targetPercent) : TrainingCallback<float>
    {
        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord r)
        {
            double accuracy = trainer.Evaluate(test.Features, test.Labels).Accuracy * 100;
            double seconds = timer.Epochs.Sum(e => e.Seconds);
            bool reached = accuracy >= targetPercent;
            view.Message(string.Create(CultureInfo.InvariantCulture,
                $"Epoch {r.Epoch}: test accuracy {accuracy:F2}% after {seconds:F1} s of training{(reached ? $"; target {targetPercent}% reached, stopping" : "")}"));
            if (reached) trainer.RequestStop();
        }
    }

    private (Dataset Train, Dataset? Validation, Dataset Test) LoadData(Preset p, TrainingView view)
    {
        Dataset train, test;
        switch (settings.Source)
        {
            case DataSource.Csv:
                train = CsvDataset.Read(settings.CsvFiles[0]);
                test = CsvDataset.Read(settings.CsvFiles[1]);
                break;
            case DataSource.SparkText:
                train = TextPairDataset.Read(settings.SparkFiles[0], settings.SparkFiles[1]);
                test = TextPairDataset.Read(settings.SparkFiles[2], settings.SparkFiles[3]);
                break;
            default:
                string dir = settings.DataDirectory ?? FindBundledMnist();
                var data = NeuralNet.Data.Mnist.Load(dir);
                (train, test) = (data.Train, data.Test);
                view.Message($"Loaded MNIST from {dir}");
                break;
        }

        if (p.TrainSubset > 0 && p.TrainSubset < train.Count) train = train.Take(p.TrainSubset);
        if (p.TestSubset > 0 && p.TestSubset < test.Count) test = test.Take(p.TestSubset);
        Dataset? validation = null;
        if (p.Validation > 0)
        {
            if (p.Validation >= train.Count)
                throw new ArgumentException($"--validation {p.Validation} leaves no training images out of {train.Count}.");
            // The last images of the training set, so the split is the same for every seed.
            validation = train.Slice(train.Count - p.Validation, p.Validation);
            train = train.Slice(0, train.Count - p.Validation);
        }

        return (train, validation, test);
    }

    /// <summary>The bundled <c>data/mnist</c>, as <see cref="NeuralNet.Data.Mnist.FindDataDirectory"/> finds it from the
    /// executable or the current directory.</summary>
    /// <exception cref="IOException">There is none; the message says where the search began and to pass --data-dir.</exception>
    private static string FindBundledMnist()
    {
        try
        {
            return NeuralNet.Data.Mnist.FindDataDirectory();
        }
        catch (DirectoryNotFoundException e)
        {
            throw new IOException($"{e.Message} Pass --data-dir DIR.", e);
        }
    }

    private (RunSummary Summary, Prediction[] Predictions) Evaluate(Preset p, Sequential<float> model, Trainer<float> trainer,
        IReadOnlyList<TimedEpoch> epochs, int trainCount, int validationCount, Dataset test)
    {
        var result = trainer.Evaluate(test.Features, test.Labels);
        var predictor = new Predictor<float>(model, ModelFactory.Output(p));
        var predictions = predictor.Predict(test.Features);

        var gallery = new List<Misclassified>();
        var sample = new List<TestPrediction>();
        int features = test.FeatureCount;
        for (int i = 0; i < predictions.Length; i++)
        {
            var pr = new TestPrediction(i, predictions[i], test.Labels[i]);
            if (sample.Count < PredictionSampleSize) sample.Add(pr);
            if (pr.Predicted != pr.Label && gallery.Count < GallerySize)
                gallery.Add(new Misclassified(pr, test.Features.AsSpan().Slice(i * features, features).ToArray()));
        }

        var summary = new RunSummary
        {
            Preset = p.Name,
            Title = p.Title,
            Reference = p.Reference,
            Notes = p.Notes,
            Architecture = ModelFactory.Describe(model),
            Settings = SettingsTable(p),
            TrainCount = trainCount,
            ValidationCount = validationCount,
            TestCount = test.Count,
            Epochs = epochs,
            Iterations = trainer.History.Iterations,
            TestAccuracy = result.Accuracy,
            TestLoss = result.Loss,
            Confusion = result.ConfusionMatrix,
            FirstLayer = FirstLayer(model),
            Gallery = gallery,
            Predictions = sample,
            TrainingSeconds = epochs.Sum(e => e.Seconds),
            CommandLine = "Mnist " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
        };
        return (summary, predictions);
    }

    private IReadOnlyList<KeyValuePair<string, string>> SettingsTable(Preset p)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<KeyValuePair<string, string>>
        {
            new("epochs", p.Epochs.ToString(inv)),
            new("batch size", p.BatchSize.ToString(inv)),
            new("learning rate", p.LearningRate.ToString(inv)),
            new("schedule", p.Schedule switch
            {
                ScheduleKind.Step => string.Create(inv, $"step decay ×{p.Decay} every {p.StepSize} epoch(s)"),
                ScheduleKind.BoldDriver => string.Create(inv, $"Bold Driver ×{p.BoldIncrease} / ×{p.BoldDecrease}"),
                ScheduleKind.OneCycle => string.Create(inv, $"one cycle over {p.Epochs} epoch(s), {p.WarmupFraction:P0} warm-up{(p.Momentum > 0 ? ", momentum 0.95–0.85" : "")}"),
                ScheduleKind.Cosine => string.Create(inv, $"cosine annealing to 0 over {p.Epochs} epoch(s)"),
                _ => "constant",
            }),
            new("momentum", p.Momentum.ToString(inv)),
            new("weight decay", p.WeightDecay.ToString(inv)),
            new("loss", p.Loss switch { LossKind.Mse => "squared error", LossKind.CrossEntropy => string.Create(inv, $"cross-entropy, ε = {p.CrossEntropyEpsilon}"), _ => "softmax cross-entropy" }),
            new("initialization", p.InitStd is { } s ? string.Create(inv, $"N(0, {s}²)") : "layer default (He for ReLU, Xavier otherwise)"),
            new("sample per epoch", p.SampleFraction >= 1 ? "all (shuffled)" : string.Create(inv, $"{p.SampleFraction:P0} random")),
            new("seed", settings.Seed.ToString(inv)),
            new("threads", settings.Threads == 0 ? "all" : settings.Threads.ToString(inv)),
            new("data", settings.Source.ToString()),
        };
        return rows;
    }

    private static WeightTiles? FirstLayer(Sequential<float> model)
    {
        foreach (var layer in model.Layers)
        {
            if (layer is Dense<float> d)
            {
                var w = d.Weight.Value;
                return w.Dim(1) == 784 ? new WeightTiles("dense", w.Dim(0), 28, 28, w.Data.ToArray()) : null;
            }

            if (layer is Conv2D<float> c)
            {
                var w = c.Weight.Value;
                return new WeightTiles("conv", w.Dim(0) * w.Dim(1), w.Dim(2), w.Dim(3), w.Data.ToArray());
            }
        }

        return null;
    }

    /// <summary>
    /// Times each epoch's training (validation excluded), pairs each of the trainer's epoch records with that time and
    /// feeds the view: the trainer's progress reports drive the live bar.
    /// </summary>
    private sealed class EpochTimer(TrainingView view, int totalEpochs, int samplesPerEpoch, int batchSize) : TrainingCallback<float>, IProgress<TrainingProgress>
    {
        private long _epochStart, _lastIterationEnd;

        public List<TimedEpoch> Epochs { get; } = [];

        /// <summary>Takes over the epochs a resumed trainer already has; their time is the trainer's elapsed-time difference.</summary>
        public void Prefill(History history, int samples)
        {
            var previous = TimeSpan.Zero;
            foreach (var r in history.Epochs)
            {
                // Elapsed restarts with every Fit call, so a drop marks a new call.
                double seconds = (r.Elapsed >= previous ? r.Elapsed - previous : r.Elapsed).TotalSeconds;
                previous = r.Elapsed;
                Epochs.Add(Timed(r, seconds, samples));
            }
        }

        public override void OnTrainBegin(Trainer<float> trainer) => StartEpoch(trainer.Epoch + 1, trainer.Optimizer.LearningRate);

        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord r) => _lastIterationEnd = Stopwatch.GetTimestamp();

        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord r)
        {
            double seconds = Stopwatch.GetElapsedTime(_epochStart, _lastIterationEnd).TotalSeconds;
            var record = Timed(r, seconds, samplesPerEpoch);
            Epochs.Add(record);
            view.EpochDone(record, totalEpochs);
        }

        /// <summary>
        /// The last callback of the trainer: starts the next epoch's clock after every other callback's work at an epoch's
        /// end (the checkpoint, --target-accuracy's test evaluation), so that work is counted in no epoch's time.
        /// </summary>
        public TrainingCallback<float> NextEpochClock => new NextEpochClockCallback(this);

        private sealed class NextEpochClockCallback(EpochTimer timer) : TrainingCallback<float>
        {
            public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord r)
            {
                if (r.Epoch < timer.TotalEpochs) timer.StartEpoch(r.Epoch + 1, trainer.Optimizer.LearningRate);
            }
        }

        private int TotalEpochs => totalEpochs;

        private static TimedEpoch Timed(in EpochRecord r, double seconds, int samples) => new(r, seconds, seconds > 0 ? samples / seconds : 0);

        public void Report(TrainingProgress value)
        {
            if (value.EpochCompleted) return;
            double seconds = Stopwatch.GetElapsedTime(_epochStart).TotalSeconds;
            int done = Math.Min(samplesPerEpoch, value.BatchInEpoch * batchSize);
            view.BatchDone(done, value.TrainingLoss, value.TrainingAccuracy, value.LearningRate, seconds > 0 ? done / seconds : 0);
        }

        private void StartEpoch(int epoch, double learningRate)
        {
            _epochStart = _lastIterationEnd = Stopwatch.GetTimestamp();
            view.EpochStarted(epoch, totalEpochs, samplesPerEpoch, learningRate);
        }
    }
}
