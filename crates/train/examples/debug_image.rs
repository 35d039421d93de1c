#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Development probe: test AUC of image-only and fused models under a few settings.
use oncolens_train::cases::ImageInput;
fn main() {
    let root = std::env::args().nth(1).unwrap();
    let which = std::env::args().nth(2).unwrap_or_else(|| "image".into());
    let cohort = oncolens_io::scan_cohort(std::path::Path::new(&root)).unwrap();
    let cases =
        oncolens_train::prepare_cohort(&cohort, &ImageInput::DEFAULT_CROP, &|_, _| {}).unwrap();
    let split = oncolens_train::split::holdout(&cases, 0.25, 0.2, 7);
    let device = oncolens_nn::default_device();
    let modalities = if which == "image" {
        oncolens_nn::ModalitySet::only(0)
    } else if which == "clinical" {
        oncolens_nn::ModalitySet::only(1)
    } else {
        oncolens_nn::ModalitySet::ALL
    };
    for (name, lr, min_epochs, stride, wd) in [
        ("auc", 2e-3, 8, 2, 1e-3),
        ("loss", 2e-3, 8, 2, 1e-3),
        ("loss_wd", 2e-3, 8, 2, 1e-2),
    ] {
        let t = std::time::Instant::now();
        let mut cfg = oncolens_train::TrainConfig {
            learning_rate: lr,
            min_epochs,
            weight_decay: wd,
            ..Default::default()
        };
        cfg.image.stem_stride = stride;
        if name.starts_with("loss") {
            cfg.select_on = oncolens_train::trainer::SelectOn::Loss;
        }
        if name == "groupnorm" {
            cfg.image.norm = oncolens_nn::ImageNorm::Group;
        }
        let m = oncolens_train::train_model(&cases, &split, modalities, &cfg, &device, &|_| {})
            .unwrap();
        let test: Vec<_> = split.test.iter().map(|&i| &cases[i]).collect();
        let logits = m.logits(&test, &device).unwrap();
        let labels: Vec<bool> = test.iter().map(|c| c.label == Some(1)).collect();
        let auc = oncolens_metrics::roc_auc(&logits, &labels).unwrap();
        println!(
            "{which} {name}: test AUC {auc:.3}, best epoch {} of {}, final train loss {:.3}, {:.0} s",
            m.best_epoch,
            m.history.len(),
            m.history.last().unwrap().train_loss,
            t.elapsed().as_secs_f64()
        );
    }
}
