using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MnistSample.Cli;

/// <summary>
/// The command line: every option, its validation, and the mapping onto <see cref="RunSettings"/>.
/// A bad command line prints one error line and returns <see cref="UsageError"/>; it never throws.
/// </summary>
public static class CommandLine
{
    /// <summary>Exit code of a bad command line.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a run that failed after the command line was accepted (bad data file, I/O error).</summary>
    public const int RunError = 1;

    private static readonly string[] Activations = ["relu", "sigmoid", "tanh"];
    private static readonly string[] Schedules = ["constant", "step", "bold-driver", "onecycle", "cosine"];

    private static readonly Option<string> PresetOption = new("--preset", "-p")
    {
        Description = "Reference system to reproduce: spark-mlp, mlp, lenet, small-cnn, deep-mlp or modern-cnn (the record preset). Every other option defaults to the preset's setting.",
        DefaultValueFactory = _ => Preset.DefaultName,
        HelpName = "name",
    };

    private static readonly Option<int?> EpochsOption = new("--epochs", "-e")
    {
        Description = "Training epochs (spark-mlp: iterations, each over a fresh random sample).",
        HelpName = "n",
    };

    private static readonly Option<int?> BatchSizeOption = new("--batch-size", "-b")
    {
        Description = "Mini-batch size.",
        HelpName = "n",
    };

    private static readonly Option<double?> LearningRateOption = new("--learning-rate", "--lr")
    {
        Description = "Initial learning rate.",
        HelpName = "rate",
    };

    private static readonly Option<string?> ScheduleOption = new("--schedule")
    {
        Description = "Learning-rate schedule: constant, step (×decay every step-size epochs), bold-driver (×increase when the loss fell, ×decrease when it rose), onecycle (warm up to the learning rate, then anneal, over all --epochs, every batch; momentum cycles 0.95–0.85) or cosine (anneal to 0 over all --epochs, every batch).",
        HelpName = "kind",
    };

    private static readonly Option<double?> WarmupOption = new("--warmup")
    {
        Description = "Fraction of the run the onecycle schedule spends warming the rate up, in (0, 1); default 0.25.",
        HelpName = "f",
    };

    private static readonly Option<double?> DecayOption = new("--decay")
    {
        Description = "Factor of the step schedule, e.g. 0.97.",
        HelpName = "gamma",
    };

    private static readonly Option<int?> StepSizeOption = new("--step-size")
    {
        Description = "Epochs between two decays of the step schedule.",
        HelpName = "n",
    };

    private static readonly Option<double?> BoldIncreaseOption = new("--bold-increase")
    {
        Description = "Bold Driver: factor applied when the loss fell (reference 1.05).",
        HelpName = "factor",
    };

    private static readonly Option<double?> BoldDecreaseOption = new("--bold-decrease")
    {
        Description = "Bold Driver: factor applied when the loss rose (reference 0.5).",
        HelpName = "factor",
    };

    private static readonly Option<double?> MomentumOption = new("--momentum")
    {
        Description = "SGD momentum in [0, 1).",
        HelpName = "m",
    };

    private static readonly Option<double?> WeightDecayOption = new("--weight-decay")
    {
        Description = "L2 weight decay of SGD (0 = none, as in the references).",
        HelpName = "lambda",
    };

    private static readonly Option<int[]?> HiddenOption = new("--hidden")
    {
        Description = "Hidden layer widths of an MLP preset, comma-separated, e.g. 400,100,25.",
        HelpName = "n,n,…",
        CustomParser = ParseHidden,
    };

    private static readonly Option<string?> ActivationOption = new("--activation")
    {
        Description = "Hidden activation of an MLP preset: relu, sigmoid or tanh.",
        HelpName = "name",
    };

    private static readonly Option<double?> SampleFractionOption = new("--sample-fraction")
    {
        Description = "Fraction of the training set drawn at random for each epoch (spark-mlp: 0.7).",
        HelpName = "f",
    };

    private static readonly Option<ulong> SeedOption = new("--seed", "-s")
    {
        Description = "Seed of every random choice; the same seed gives the same weights at any thread count.",
        DefaultValueFactory = _ => 42UL,
        HelpName = "n",
    };

    private static readonly Option<int> ThreadsOption = new("--threads", "-t")
    {
        Description = "Threads the library may use (0 = all cores).",
        DefaultValueFactory = _ => 0,
        HelpName = "n",
    };

    private static readonly Option<int?> SubsetOption = new("--subset")
    {
        Description = "Use only the first N training images and the first N test images (small-cnn reference: 1000). Validation then defaults to at most N/10.",
        HelpName = "n",
    };

    private static readonly Option<int?> ValidationOption = new("--validation")
    {
        Description = "Training images held out for validation (0 = none).",
        HelpName = "n",
    };

    private static readonly Option<string?> DataDirOption = new("--data-dir", "-d")
    {
        Description = "Directory of the four MNIST IDX files (.gz or raw). Default: data/mnist of the repository.",
        HelpName = "dir",
    };

    private static readonly Option<string[]?> CsvOption = new("--csv")
    {
        Description = "Train and test CSV files of rows 'label,p1,…,p784' (pixels 0–255), instead of IDX.",
        HelpName = "TRAIN.csv TEST.csv",
        Arity = new ArgumentArity(2, 2),
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<string?> OutputOption = new("--output", "-o")
    {
        Description = "Output directory for history, metrics, model, predictions and report.html. Default: out/<preset>.",
        HelpName = "dir",
    };

    private static readonly Option<string?> ResumeOption = new("--resume")
    {
        Description = "Continue an interrupted run from this checkpoint file (written to <output>/checkpoint.safetensors after every epoch); the other settings must match the interrupted run, --epochs is the total.",
        HelpName = "checkpoint",
    };

    private static readonly Option<double?> TargetAccuracyOption = new("--target-accuracy")
    {
        Description = "Evaluate on the test set after every epoch and stop at the end of the first epoch whose test accuracy is at least P percent (e.g. 99.5); prints the training seconds until then.",
        HelpName = "P",
    };

    private static readonly Option<bool?> AugmentOption = new("--augment")
    {
        Description = "Random rotation (±10°), scaling (±10%) and translation (±2 px) of every training image, fresh each epoch (true or false; the CNN presets' default is the preset's).",
        HelpName = "true|false",
    };

    private static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Print one JSON summary line (preset, epochs, seconds per epoch, samples/s, test accuracy, final loss) instead of the console UI.",
    };

    private static readonly Option<bool> DistributedOption = new("--distributed")
    {
        Description = "Train data-parallel over MPI ranks (launch with mpirun).",
    };

    private static readonly Option<string?> CollectiveTimeoutOption = new("--collective-timeout")
    {
        Description = "With --distributed: seconds a rank waits in one collective (all-reduce, broadcast, …) before it names the ranks that did not arrive and ends the job, or 'infinite'. Default 60, or the NEURALNET_COLLECTIVE_TIMEOUT environment variable.",
        HelpName = "seconds",
    };

    private static readonly Option<bool> PlainOption = new("--plain")
    {
        Description = "Plain progress lines even on a terminal (the default when output is redirected).",
    };

    private static readonly Option<bool> NoReportOption = new("--no-report")
    {
        Description = "Do not write report.html.",
    };

    private static readonly Argument<string[]> SparkArguments = new("spark-files")
    {
        Description = "The Spark reference's arguments TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR: images as text files of 784 space-separated floats in [0,1] per line, labels as one-hot rows of 10. All five or none.",
        HelpName = "TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Builds the root command; the action, when invoked, calls <paramref name="run"/> with the resolved settings.</summary>
    /// <param name="run">Runs the training; returns the process exit code.</param>
    public static RootCommand Build(Func<RunSettings, int> run)
    {
        var root = new RootCommand(
            "Trains a NeuralNet model on MNIST, reproducing one of five reference systems, and writes history, metrics, " +
            "the model and report.html. Without arguments: the mlp preset on the bundled MNIST, printing the test accuracy.\n\n" +
            "Presets:\n" + string.Join("\n", Preset.All.Select(p => $"  {p.Name,-10} {p.Title}")));

        Option[] options =
        [
            PresetOption, EpochsOption, BatchSizeOption, LearningRateOption, ScheduleOption, WarmupOption, DecayOption, StepSizeOption,
            BoldIncreaseOption, BoldDecreaseOption, MomentumOption, WeightDecayOption, HiddenOption, ActivationOption, SampleFractionOption,
            SeedOption, ThreadsOption, SubsetOption, ValidationOption, DataDirOption, CsvOption, OutputOption, ResumeOption,
            JsonOption, TargetAccuracyOption, AugmentOption, DistributedOption, CollectiveTimeoutOption, PlainOption, NoReportOption,
        ];
        foreach (var o in options) root.Options.Add(o);
        root.Arguments.Add(SparkArguments);

        PresetOption.AcceptOnlyFromAmong(Preset.Names);
        ScheduleOption.AcceptOnlyFromAmong(Schedules);
        ActivationOption.AcceptOnlyFromAmong(Activations);
        Positive(EpochsOption);
        Positive(BatchSizeOption);
        Positive(StepSizeOption);
        Positive(SubsetOption);
        PositiveReal(LearningRateOption);
        PositiveReal(DecayOption);
        PositiveReal(BoldIncreaseOption);
        PositiveReal(BoldDecreaseOption);
        InRange(MomentumOption, 0, 1, upperInclusive: false);
        InRange(WeightDecayOption, 0, 1, upperInclusive: false);
        InRange(SampleFractionOption, 0, 1, upperInclusive: true, lowerExclusive: true);
        InRange(WarmupOption, 0, 1, upperInclusive: false, lowerExclusive: true);
        ThreadsOption.Validators.Add(r =>
        {
            int threads = r.GetValueOrDefault<int>();
            if (threads < 0) r.AddError("--threads must be 0 (all cores) or positive.");
            else if (threads > MaxThreads)
                r.AddError($"--threads {threads} is more than {MaxThreads} ({ThreadsPerCore} per core on this machine's {Environment.ProcessorCount} cores); use 0 for all cores.");
        });
        CollectiveTimeoutOption.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is not { } text) return;
            try
            {
                NeuralNet.Distributed.MpiCommunicator.ParseCollectiveTimeout(text, "--collective-timeout");
            }
            catch (ArgumentException e)
            {
                r.AddError(e.Message);
            }
        });
        ValidationOption.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() < 0) r.AddError("--validation must not be negative.");
        });
        SparkArguments.Validators.Add(r =>
        {
            int n = r.Tokens.Count;
            if (r.Tokens.FirstOrDefault(t => t.Value.StartsWith('-') && t.Value.Length > 1 && !double.TryParse(t.Value, CultureInfo.InvariantCulture, out _)) is { } unknown)
                r.AddError($"Unknown option '{unknown.Value}'.");
            else if (n != 0 && n != 5)
                r.AddError($"Expected all five positional arguments TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR, got {n}: '{string.Join(' ', r.Tokens.Select(t => t.Value))}'.");
        });
        root.Validators.Add(r =>
        {
            bool spark = r.GetValue(SparkArguments) is { Length: > 0 };
            bool csv = r.GetValue(CsvOption) is { Length: > 0 };
            bool dir = r.GetValue(DataDirOption) is not null;
            if (spark && csv) r.AddError("Give either the Spark positional files or --csv, not both.");
            if ((spark || csv) && dir) r.AddError("--data-dir is for IDX files; it cannot be combined with --csv or the Spark positional files.");
            if (spark && r.GetValue(OutputOption) is not null) r.AddError("OUTPUT_DIR is given positionally; drop --output.");
        });

        root.SetAction(parse => run(ToSettings(parse)));
        Commands.InteropCommands.AddTo(root);
        return root;
    }

    /// <summary>More threads per core than this only add switching: --threads above <see cref="MaxThreads"/> is refused.</summary>
    public const int ThreadsPerCore = 4;

    /// <summary>The largest --threads accepted on this machine.</summary>
    public static int MaxThreads => ThreadsPerCore * Environment.ProcessorCount;

    /// <summary>
    /// The first token that looks like an option but names none of <paramref name="root"/>'s, as
    /// "unknown option '--epoch' (did you mean --epochs?)"; null when there is none.
    /// </summary>
    /// <remarks>Checked before parsing: otherwise System.CommandLine hands the stray token to the positional Spark files or
    /// to the previous option, and the message talks about those instead.</remarks>
    public static string? UnknownOption(RootCommand root, IReadOnlyList<string> args)
    {
        // The options of every command (the root and any subcommand), so a subcommand's own options are never flagged.
        static IEnumerable<Command> All(Command c) => c.Subcommands.SelectMany(All).Prepend(c);
        var known = All(root).SelectMany(c => c.Options).SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string token = args[i];
            if (token == "--") break; // everything after is positional
            if (token.Length < 2 || token[0] != '-' || double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) continue;
            string name = token.Split('=', 2)[0];
            if (known.Contains(name)) continue;
            string? suggestion = known.Where(k => k.StartsWith("--", StringComparison.Ordinal))
                .Select(k => (Name: k, Distance: EditDistance(name, k)))
                .Where(c => c.Distance <= Math.Max(2, name.Length / 3))
                .OrderBy(c => c.Distance).ThenBy(c => c.Name, StringComparer.Ordinal)
                .Select(c => c.Name).FirstOrDefault();
            return suggestion is null ? $"unknown option '{name}'" : $"unknown option '{name}' (did you mean {suggestion}?)";
        }

        return null;
    }

    private static int EditDistance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) row[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }

        return row[b.Length];
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs. Errors in the command line print one line to <paramref name="error"/>
    /// and return <see cref="UsageError"/>; <c>--help</c> prints the help and returns 0.
    /// </summary>
    public static int Run(string[] args, Func<RunSettings, int> run, TextWriter? output = null, TextWriter? error = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var root = Build(run);
        if (UnknownOption(root, args) is { } unknown)
        {
            error.WriteLine($"mnist: error: {unknown} (see --help)");
            return UsageError;
        }

        ParseResult parse;
        try
        {
            parse = root.Parse(args);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error.WriteLine($"mnist: error: {OneLine(e.Message)} (see --help)");
            return UsageError;
        }

        if (parse.Action is not HelpAction && parse.Errors.Count > 0)
        {
            error.WriteLine($"mnist: error: {FirstError(parse)} (see --help)");
            return UsageError;
        }

        var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        return parse.Invoke(config);
    }

    /// <summary>Parses the command line into settings without running; for tests and tools.</summary>
    /// <returns>The settings, or null with the error message when the command line is bad.</returns>
    public static (RunSettings? Settings, string? Error) TryParse(string[] args)
    {
        var root = Build(_ => 0);
        if (UnknownOption(root, args) is { } unknown) return (null, unknown);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0) return (null, FirstError(parse));
        return (ToSettings(parse), null);
    }

    private static RunSettings ToSettings(ParseResult r)
    {
        var preset = Preset.Get(r.GetValue(PresetOption)!);
        var e = preset;
        if (r.GetValue(EpochsOption) is { } epochs) e = e with { Epochs = epochs };
        if (r.GetValue(BatchSizeOption) is { } batch) e = e with { BatchSize = batch };
        if (r.GetValue(LearningRateOption) is { } lr) e = e with { LearningRate = lr };
        if (r.GetValue(ScheduleOption) is { } schedule)
            e = e with
            {
                Schedule = schedule switch
                {
                    "step" => ScheduleKind.Step, "bold-driver" => ScheduleKind.BoldDriver, "onecycle" => ScheduleKind.OneCycle,
                    "cosine" => ScheduleKind.Cosine, _ => ScheduleKind.Constant,
                },
            };
        if (r.GetValue(WarmupOption) is { } warmup) e = e with { WarmupFraction = warmup };
        if (r.GetValue(DecayOption) is { } decay) e = e with { Decay = decay };
        if (r.GetValue(StepSizeOption) is { } stepSize) e = e with { StepSize = stepSize };
        if (r.GetValue(BoldIncreaseOption) is { } up) e = e with { BoldIncrease = up };
        if (r.GetValue(BoldDecreaseOption) is { } down) e = e with { BoldDecrease = down };
        if (r.GetValue(MomentumOption) is { } momentum) e = e with { Momentum = momentum };
        if (r.GetValue(WeightDecayOption) is { } weightDecay) e = e with { WeightDecay = weightDecay };
        if (r.GetValue(HiddenOption) is { Length: > 0 } hidden) e = e with { Hidden = hidden };
        if (r.GetValue(ActivationOption) is { } activation) e = e with { Activation = activation };
        if (r.GetValue(SampleFractionOption) is { } fraction) e = e with { SampleFraction = fraction };
        if (r.GetValue(SubsetOption) is { } subset) e = e with { TrainSubset = subset, TestSubset = subset };
        if (r.GetValue(AugmentOption) is { } augment) e = e with { Augment = augment };
        if (r.GetValue(ValidationOption) is { } validation) e = e with { Validation = validation };
        else if (r.GetValue(SubsetOption) is { } small) e = e with { Validation = Math.Min(e.Validation, small / 10) }; // keep 90% of a subset for training

        var spark = r.GetValue(SparkArguments) ?? [];
        var csv = r.GetValue(CsvOption) is { Length: > 0 } files ? files : null;
        var source = spark.Length == 5 ? DataSource.SparkText : csv is not null ? DataSource.Csv : DataSource.Idx;
        string output = spark.Length == 5 ? spark[4] : r.GetValue(OutputOption) ?? Path.Combine("out", preset.Name);

        return new RunSettings
        {
            Preset = preset,
            Effective = e,
            Seed = r.GetValue(SeedOption),
            Threads = r.GetValue(ThreadsOption),
            Source = source,
            DataDirectory = r.GetValue(DataDirOption),
            CsvFiles = csv ?? [],
            SparkFiles = spark.Length == 5 ? spark[..4] : [],
            OutputDirectory = output,
            Resume = r.GetValue(ResumeOption),
            Json = r.GetValue(JsonOption),
            TargetAccuracy = r.GetValue(TargetAccuracyOption),
            Distributed = r.GetValue(DistributedOption),
            CollectiveTimeout = r.GetValue(CollectiveTimeoutOption) is { } timeout
                ? NeuralNet.Distributed.MpiCommunicator.ParseCollectiveTimeout(timeout, "--collective-timeout") : null,
            Plain = r.GetValue(PlainOption),
            NoReport = r.GetValue(NoReportOption),
        };
    }

    private static int[]? ParseHidden(ArgumentResult result)
    {
        string text = string.Join(",", result.Tokens.Select(t => t.Value));
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            result.AddError("--hidden needs at least one width, e.g. --hidden 400,100,25.");
            return null;
        }

        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out widths[i]) || widths[i] <= 0 || widths[i] > 100_000)
            {
                result.AddError($"--hidden expects positive widths separated by commas, e.g. 400,100,25; '{parts[i]}' is not one.");
                return null;
            }
        }

        return widths;
    }

    private static void Positive(Option<int?> option) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<int?>() is <= 0) r.AddError($"{option.Name} must be a positive integer, got {r.GetValueOrDefault<int?>()}.");
    });

    private static void PositiveReal(Option<double?> option) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<double?>() is { } v && (!double.IsFinite(v) || v <= 0))
            r.AddError($"{option.Name} must be a positive finite number, got {v.ToString(CultureInfo.InvariantCulture)}.");
    });

    private static void InRange(Option<double?> option, double low, double high, bool upperInclusive, bool lowerExclusive = false) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<double?>() is not { } v) return;
        bool ok = double.IsFinite(v) && (lowerExclusive ? v > low : v >= low) && (upperInclusive ? v <= high : v < high);
        if (!ok)
        {
            string range = $"{(lowerExclusive ? "(" : "[")}{low.ToString(CultureInfo.InvariantCulture)}, {high.ToString(CultureInfo.InvariantCulture)}{(upperInclusive ? "]" : ")")}";
            r.AddError($"{option.Name} must be in {range}, got {v.ToString(CultureInfo.InvariantCulture)}.");
        }
    });

    // The cross-option checks on the root command only make sense once every token was understood, so an
    // unknown option or a badly typed value is reported first.
    private static string FirstError(ParseResult parse)
    {
        var first = parse.Errors.OrderBy(e => e.SymbolResult is CommandResult ? 1 : 0).First();
        return OneLine(first.Message);
    }

    private static string OneLine(string message)
    {
        message = Regex.Replace(message, @"as expected type 'System\.Nullable`1\[System\.(\w+)\]'|as expected type 'System\.(\w+)'", m =>
        {
            string type = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            return type switch
            {
                "Double" or "Single" => "as a number",
                "Int32" or "Int64" or "UInt64" => "as an integer",
                _ => "as " + type,
            };
        });
        return Regex.Replace(message, @"\s+", " ").Trim();
    }
}
