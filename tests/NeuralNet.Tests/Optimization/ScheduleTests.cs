using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;

namespace NeuralNet.Tests.Optimization;

public class ScheduleTests
{
    /// <summary>An optimizer without parameters: only its rate matters to a schedule.</summary>
    internal static Sgd<double> Opt(double learningRate) => new(Array.Empty<Parameter<double>>(), learningRate);

    [Fact]
    public void Constant_NeverChanges()
    {
        var s = new ConstantSchedule(Opt(0.25));
        for (int i = 0; i < 5; i++) s.Step();
        s.LearningRate.Should().Be(0.25);
        s.StepCount.Should().Be(5);
    }

    [Fact]
    public void StepDecay_MultipliesByGammaEveryKSteps()
    {
        var s = new StepDecaySchedule(Opt(0.1), gamma: 0.5, stepSize: 3);
        var seen = new List<double> { s.LearningRate };
        for (int i = 0; i < 7; i++) { s.Step(); seen.Add(s.LearningRate); }
        seen.Should().Equal(0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025);
    }

    [Fact]
    public void StepDecay_097PerEpoch_MatchesReferenceRule()
    {
        var s = new StepDecaySchedule(Opt(0.001), gamma: 0.97);
        for (int i = 0; i < 100; i++) s.Step();
        s.LearningRate.Should().Be(0.001 * Math.Pow(0.97, 100));
        s.LearningRate.Should().BeApproximately(4.755e-5, 1e-8);
    }

    [Fact]
    public void Exponential_IsGammaToTheT()
    {
        var s = new ExponentialSchedule(Opt(2.0), 0.9);
        s.Step(); s.LearningRate.Should().Be(2.0 * 0.9);
        s.Step(); s.LearningRate.Should().Be(2.0 * Math.Pow(0.9, 2));
        s.Step(1.23).Should().Be(ScheduleDecision.None); // loss ignored
        s.LearningRate.Should().BeApproximately(1.458, 1e-15);
    }

    [Fact]
    public void BoldDriver_IncreasesOnFallAndHalvesOnRise()
    {
        var s = new BoldDriverSchedule(Opt(0.1));
        s.Step(1.0).Should().Be(ScheduleDecision.None);
        s.LearningRate.Should().Be(0.1);
        s.Step(0.8).Should().Be(ScheduleDecision.Improved);
        s.LearningRate.Should().Be(0.1 * 1.05);
        s.Step(0.9).Should().Be(ScheduleDecision.Worsened);
        s.LearningRate.Should().Be(0.1 * 1.05 * 0.5);
        s.ReferenceLoss.Should().Be(0.9); // without undo the new weights stay, so the new loss is the reference
        s.Step(0.9).Should().Be(ScheduleDecision.Unchanged);
        s.LearningRate.Should().Be(0.1 * 1.05 * 0.5);
        s.Step(0.85).Should().Be(ScheduleDecision.Improved);
        s.LearningRate.Should().Be(0.1 * 1.05 * 0.5 * 1.05);
        s.RiseCount.Should().Be(1);
    }

    [Fact]
    public void BoldDriver_WithUndo_KeepsTheReferenceLoss()
    {
        var s = new BoldDriverSchedule(Opt(0.2), undoOnIncrease: true);
        s.Step(1.0);
        s.Step(1.5).Should().Be(ScheduleDecision.WorsenedUndo);
        s.LearningRate.Should().Be(0.1);
        s.ReferenceLoss.Should().Be(1.0);
        s.Step(1.2).Should().Be(ScheduleDecision.WorsenedUndo); // still worse than 1.0
        s.LearningRate.Should().Be(0.05);
        s.Step(0.99).Should().Be(ScheduleDecision.Improved);
        s.LearningRate.Should().Be(0.05 * 1.05);
        s.ReferenceLoss.Should().Be(0.99);
    }

    [Fact]
    public void BoldDriver_RespectsBounds()
    {
        var s = new BoldDriverSchedule(Opt(0.1), minLearningRate: 0.06, maxLearningRate: 0.104);
        s.Step(1.0);
        s.Step(0.5);
        s.LearningRate.Should().Be(0.104);
        s.Step(0.6);
        s.LearningRate.Should().Be(0.06);
    }

    [Fact]
    public void BoldDriver_StepWithoutLoss_Throws()
    {
        var s = new BoldDriverSchedule(Opt(0.1));
        FluentActions.Invoking(() => s.Step()).Should().Throw<InvalidOperationException>().WithMessage("*BoldDriver*Step(loss)*");
        FluentActions.Invoking(() => s.Step(double.NaN)).Should().Throw<ArgumentException>().WithMessage("*finite*NaN*");
        s.RequiresLoss.Should().BeTrue();
    }

    [Fact]
    public void States_RoundTripExactly()
    {
        var a = new BoldDriverSchedule(Opt(0.1), undoOnIncrease: true);
        a.Step(1.0); a.Step(0.7); a.Step(0.9);
        var b = new BoldDriverSchedule(Opt(0.1), undoOnIncrease: true);
        b.SetState(a.GetState());
        b.LearningRate.Should().Be(0.1, "the rate is the optimizer's state, not the schedule's");
        ((Sgd<double>)b.Optimizer).SetState(((Sgd<double>)a.Optimizer).GetState());
        b.LearningRate.Should().Be(a.LearningRate);
        b.ReferenceLoss.Should().Be(0.7);
        b.RiseCount.Should().Be(1);
        a.Step(0.65).Should().Be(b.Step(0.65));
        b.LearningRate.Should().Be(a.LearningRate);

        var d = new StepDecaySchedule(Opt(0.1), 0.97);
        for (int i = 0; i < 4; i++) d.Step();
        var e = new StepDecaySchedule(Opt(0.1), 0.97);
        e.SetState(d.GetState());
        e.StepCount.Should().Be(4);
        d.Step(); e.Step();
        e.LearningRate.Should().Be(d.LearningRate);
    }

    [Fact]
    public void BadStates_Throw()
    {
        var s = new BoldDriverSchedule(Opt(0.1));
        FluentActions.Invoking(() => s.SetState(new Dictionary<string, double> { ["learning_rate"] = 0.1 }))
            .Should().Throw<ArgumentException>().WithMessage("*BoldDriver*has_reference*");
        var d = new StepDecaySchedule(Opt(0.1), 0.5);
        FluentActions.Invoking(() => d.SetState(new Dictionary<string, double> { ["step_count"] = -1 }))
            .Should().Throw<ArgumentException>().WithMessage("*step_count*-1*");
        FluentActions.Invoking(() => d.SetState(new Dictionary<string, double> { ["step_count"] = 1.5 }))
            .Should().Throw<ArgumentException>().WithMessage("*step_count*1.5*");
        FluentActions.Invoking(() => new StepDecaySchedule(Opt(0.1), 0.5, stepSize: 0)).Should().Throw<ArgumentException>().WithMessage("*step size*");
        FluentActions.Invoking(() => new BoldDriverSchedule(Opt(0.1), decrease: 1.5)).Should().Throw<ArgumentException>().WithMessage("*decrease*");
    }
}
