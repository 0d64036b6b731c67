"""Spoken alert phrases, translated by hand. Alerts are a closed vocabulary, so nothing is
machine-translated at run time: each phrase names its fields, and each field value that a
phrase speaks (priority, breaker trigger and action, run phase) has its own translation.

Phrases use only closed-vocabulary fields and numbers, never free text from an event (that is
English and would be read with the wrong language's rules).
"""

from __future__ import annotations

from collections.abc import Mapping

GENERIC = "generic"  # the phrase for a rule that has none of its own
OTHER = "*"  # the word for a field value the table does not know

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "breaker_tripped": "{priority}. Training stopped: {trigger}. Next step: {action}.",
        "breaker_warned": "{priority}. Training looks unsteady: {trigger}.",
        "approval_requested": "{priority}. A decision is waiting for you.",
        "run_failed": "{priority}. The run failed during {phase}.",
        "contract_failed": "{priority}. A quality check on the result failed.",
        "eval_regressed": "{priority}. The new model scores worse than the base model.",
        "run_finished": "{priority}. The run finished.",
        "sink_degraded": "{priority}. Some telemetry may be missing.",
        "flood": "{priority}. {count} related alerts. Please check the dashboard.",
        GENERIC: "{priority}. {title}.",
    },
    "es": {
        "breaker_tripped": (
            "{priority}. El entrenamiento se detuvo: {trigger}. Siguiente paso: {action}."
        ),
        "breaker_warned": "{priority}. El entrenamiento parece inestable: {trigger}.",
        "approval_requested": "{priority}. Hay una decisión esperándote.",
        "run_failed": "{priority}. La ejecución falló durante {phase}.",
        "contract_failed": "{priority}. Falló una comprobación de calidad del resultado.",
        "eval_regressed": "{priority}. El nuevo modelo puntúa peor que el modelo base.",
        "run_finished": "{priority}. La ejecución terminó.",
        "sink_degraded": "{priority}. Puede que falten datos de telemetría.",
        "flood": "{priority}. {count} alertas relacionadas. Consulta el panel.",
        GENERIC: "{priority}. Nueva alerta. Consulta el panel.",
    },
    "fr": {
        "breaker_tripped": (
            "{priority}. L'entraînement s'est arrêté : {trigger}. Étape suivante : {action}."
        ),
        "breaker_warned": "{priority}. L'entraînement semble instable : {trigger}.",
        "approval_requested": "{priority}. Une décision vous attend.",
        "run_failed": "{priority}. L'exécution a échoué pendant {phase}.",
        "contract_failed": "{priority}. Un contrôle de qualité du résultat a échoué.",
        "eval_regressed": (
            "{priority}. Le nouveau modèle obtient de moins bons scores que le modèle de base."
        ),
        "run_finished": "{priority}. L'exécution est terminée.",
        "sink_degraded": "{priority}. Des données de télémétrie peuvent manquer.",
        "flood": "{priority}. {count} alertes liées. Consultez le tableau de bord.",
        GENERIC: "{priority}. Nouvelle alerte. Consultez le tableau de bord.",
    },
    "de": {
        "breaker_tripped": (
            "{priority}. Das Training wurde angehalten: {trigger}. Nächster Schritt: {action}."
        ),
        "breaker_warned": "{priority}. Das Training wirkt instabil: {trigger}.",
        "approval_requested": "{priority}. Eine Entscheidung wartet auf Sie.",
        "run_failed": "{priority}. Der Lauf ist während {phase} fehlgeschlagen.",
        "contract_failed": "{priority}. Eine Qualitätsprüfung des Ergebnisses ist fehlgeschlagen.",
        "eval_regressed": (
            "{priority}. Das neue Modell schneidet schlechter ab als das Basismodell."
        ),
        "run_finished": "{priority}. Der Lauf ist abgeschlossen.",
        "sink_degraded": "{priority}. Möglicherweise fehlen Telemetriedaten.",
        "flood": "{priority}. {count} zusammenhängende Meldungen. Bitte sehen Sie in der "
        "Übersicht nach.",
        GENERIC: "{priority}. Neue Meldung. Bitte sehen Sie in der Übersicht nach.",
    },
    "zh": {
        "breaker_tripped": "{priority}。训练已停止：{trigger}。下一步：{action}。",
        "breaker_warned": "{priority}。训练看起来不稳定：{trigger}。",
        "approval_requested": "{priority}。有一个决定正在等你处理。",
        "run_failed": "{priority}。运行在{phase}阶段失败。",
        "contract_failed": "{priority}。结果的一项质量检查没有通过。",
        "eval_regressed": "{priority}。新模型的得分比基础模型差。",
        "run_finished": "{priority}。运行已完成。",
        "sink_degraded": "{priority}。部分遥测数据可能缺失。",
        "flood": "{priority}。有{count}条相关警报。请查看仪表板。",
        GENERIC: "{priority}。有新的警报。请查看仪表板。",
    },
}

# field → value → word, per language. OTHER covers values the table does not list.
VOCABULARY: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "priority": {"warning": "Warning", "caution": "Caution", "advisory": "Advisory"},
        "trigger": {
            "nan_inf": "numbers are no longer valid",
            "loss_spike": "a loss spike",
            "perplexity_rise": "perplexity is rising",
            "probe_drop": "probe answers got worse",
            OTHER: "a problem",
        },
        "action": {
            "pause": "pause",
            "abort": "stop the run",
            "rollback": "roll back to a checkpoint",
            OTHER: "check the dashboard",
        },
        "phase": {
            "plan": "planning",
            "load": "loading",
            "grow": "growth",
            "context": "context extension",
            "data": "data preparation",
            "train": "training",
            "evaluate": "evaluation",
            "contracts": "the quality checks",
            "gate": "the approval",
            "export": "export",
            OTHER: "a step",
        },
    },
    "es": {
        "priority": {"warning": "Advertencia", "caution": "Precaución", "advisory": "Aviso"},
        "trigger": {
            "nan_inf": "los números ya no son válidos",
            "loss_spike": "un pico de pérdida",
            "perplexity_rise": "la perplejidad está subiendo",
            "probe_drop": "las respuestas de prueba empeoraron",
            OTHER: "un problema",
        },
        "action": {
            "pause": "pausar",
            "abort": "detener la ejecución",
            "rollback": "volver a un punto de control",
            OTHER: "consultar el panel",
        },
        "phase": {
            "plan": "la planificación",
            "load": "la carga",
            "grow": "el crecimiento",
            "context": "la extensión del contexto",
            "data": "la preparación de los datos",
            "train": "el entrenamiento",
            "evaluate": "la evaluación",
            "contracts": "las comprobaciones de calidad",
            "gate": "la aprobación",
            "export": "la exportación",
            OTHER: "un paso",
        },
    },
    "fr": {
        "priority": {"warning": "Alerte", "caution": "Attention", "advisory": "Information"},
        "trigger": {
            "nan_inf": "les nombres ne sont plus valides",
            "loss_spike": "un pic de perte",
            "perplexity_rise": "la perplexité augmente",
            "probe_drop": "les réponses de contrôle se sont dégradées",
            OTHER: "un problème",
        },
        "action": {
            "pause": "mettre en pause",
            "abort": "arrêter l'exécution",
            "rollback": "revenir à un point de sauvegarde",
            OTHER: "consulter le tableau de bord",
        },
        "phase": {
            "plan": "la planification",
            "load": "le chargement",
            "grow": "la croissance",
            "context": "l'extension du contexte",
            "data": "la préparation des données",
            "train": "l'entraînement",
            "evaluate": "l'évaluation",
            "contracts": "les contrôles de qualité",
            "gate": "l'approbation",
            "export": "l'exportation",
            OTHER: "une étape",
        },
    },
    "de": {
        "priority": {"warning": "Warnung", "caution": "Vorsicht", "advisory": "Hinweis"},
        "trigger": {
            "nan_inf": "die Zahlenwerte sind ungültig",
            "loss_spike": "eine Verlustspitze",
            "perplexity_rise": "die Perplexität steigt",
            "probe_drop": "die Prüfantworten sind schlechter geworden",
            OTHER: "ein Problem",
        },
        "action": {
            "pause": "pausieren",
            "abort": "den Lauf abbrechen",
            "rollback": "zu einem Sicherungspunkt zurückkehren",
            OTHER: "in der Übersicht nachsehen",
        },
        # genitive, after "während"
        "phase": {
            "plan": "der Planung",
            "load": "des Ladens",
            "grow": "des Wachstums",
            "context": "der Kontexterweiterung",
            "data": "der Datenvorbereitung",
            "train": "des Trainings",
            "evaluate": "der Auswertung",
            "contracts": "der Qualitätsprüfungen",
            "gate": "der Freigabe",
            "export": "des Exports",
            OTHER: "eines Schritts",
        },
    },
    "zh": {
        "priority": {"warning": "警告", "caution": "注意", "advisory": "提示"},
        "trigger": {
            "nan_inf": "数值已经无效",
            "loss_spike": "损失突然升高",
            "perplexity_rise": "困惑度正在上升",
            "probe_drop": "探测问题的回答变差了",
            OTHER: "出现问题",
        },
        "action": {
            "pause": "暂停",
            "abort": "终止运行",
            "rollback": "回退到检查点",
            OTHER: "查看仪表板",
        },
        "phase": {
            "plan": "规划",
            "load": "加载",
            "grow": "扩展",
            "context": "上下文扩展",
            "data": "数据准备",
            "train": "训练",
            "evaluate": "评估",
            "contracts": "质量检查",
            "gate": "审批",
            "export": "导出",
            OTHER: "某个",
        },
    },
}

LANGUAGES: tuple[str, ...] = tuple(PHRASES)


def phrase(language: str, name: str) -> str:
    """The template for `name` in `language`, or the language's generic phrase."""
    table = PHRASES[language]
    return table.get(name, table[GENERIC])


def spoken_value(language: str, field: str, value: object) -> str:
    """The word for a closed-vocabulary field value; numbers and unknown fields pass through."""
    words: Mapping[str, str] | None = VOCABULARY[language].get(field)
    if words is None:
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    return words.get(str(value), words.get(OTHER, str(value)))
