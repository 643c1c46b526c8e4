#!/bin/bash
# Multi-node RLVR on SLURM: one `accelerate launch` per node, DeepSpeed ZeRO-3, 8 GPUs per node.
#   sbatch --nodes=4 train/configs/slurm_multinode.sh train/configs/rl_7b.yaml
# Every node must see the same repository, data and output folder (a shared filesystem).
# vLLM as a rollout server instead: start `trl vllm-serve --model runs/sft_7b/final` on one extra node and set
# rollout.use_vllm: true, rollout.vllm_mode: server, rollout.vllm_server_base_url: http://HOST:8000 in the config.
#SBATCH --job-name=m2-rl
#SBATCH --ntasks-per-node=1
#SBATCH --gres=gpu:8
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

CONFIG=${1:-train/configs/rl_7b.yaml}
GPUS_PER_NODE=8
MAIN_HOST=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MAIN_PORT=${MAIN_PORT:-29500}
NUM_PROCESSES=$((SLURM_NNODES * GPUS_PER_NODE))

srun --kill-on-bad-exit=1 bash -c "
  accelerate launch \
    --config_file train/configs/deepspeed_zero3.yaml \
    --num_machines $SLURM_NNODES \
    --num_processes $NUM_PROCESSES \
    --machine_rank \$SLURM_PROCID \
    --main_process_ip $MAIN_HOST \
    --main_process_port $MAIN_PORT \
    --rdzv_backend c10d \
    -m m2sdk.cli.main train rl $CONFIG
"
